import { combinationCount, describeMaxFailedTrials, fmtSeconds, issuesAt, parseAxis, windowBound } from '../src/format';

describe('the new-run form’s grid arithmetic', () => {
  it('counts a values axis by its distinct values, and the grid as the product of the axes', () => {
    const fast = parseAxis({ mode: 'values', text: '5, 10, 40' }, 'integer');
    const slow = parseAxis({ mode: 'values', text: '20,30' }, 'integer');
    expect(fast).toEqual({ value: [5, 10, 40], count: 3 });
    expect(slow).toEqual({ value: [20, 30], count: 2 });
    expect(combinationCount([3, 2])).toBe(6);
  });

  it('counts an inclusive range, keeping the last point of a fractional step', () => {
    expect(parseAxis({ mode: 'range', min: '5', max: '50', step: '5' }, 'integer')).toEqual({
      value: { min: 5, max: 50, step: 5 },
      count: 10,
    });
    expect(parseAxis({ mode: 'range', min: '0.1', max: '0.3', step: '0.1' }, 'number')).toMatchObject({ count: 3 });
  });

  it('names what is wrong instead of counting', () => {
    expect(parseAxis({ mode: 'values', text: '5, x' }, 'integer')).toEqual({ error: '"x" is not an integer' });
    expect(parseAxis({ mode: 'values', text: '1.5' }, 'integer')).toEqual({ error: '"1.5" is not an integer' });
    expect(parseAxis({ mode: 'range', min: '10', max: '5', step: '1' }, 'integer')).toEqual({
      error: 'max must be at least min',
    });
    expect(parseAxis({ mode: 'range', min: '1', max: '5', step: '0' }, 'integer')).toEqual({
      error: 'step must be positive',
    });
    expect(parseAxis({ mode: 'values', text: ' , ' }, 'integer')).toEqual({ error: 'enter at least one value' });
  });
});

describe('durations shown for an ETA', () => {
  it('reads as seconds, minutes or hours, and as a dash when unknown', () => {
    expect(fmtSeconds(0)).toBe('0 s');
    expect(fmtSeconds(44.6)).toBe('45 s');
    expect(fmtSeconds(200)).toBe('3 min 20 s');
    expect(fmtSeconds(2 * 3600 + 5 * 60 + 59)).toBe('2 h 5 min');
    expect(fmtSeconds(undefined)).toBe('–');
    expect(fmtSeconds(Number.NaN)).toBe('–');
    expect(fmtSeconds(-1)).toBe('–');
  });
});

describe('the new-run form’s optional fields', () => {
  it('explains a maxFailedTrials as a count or as a share, and leaves anything else to the API', () => {
    expect(describeMaxFailedTrials('5')).toBe('stops the run as Failed once 5 trials have failed');
    expect(describeMaxFailedTrials('1')).toBe('stops the run as Failed once 1 trial has failed');
    expect(describeMaxFailedTrials('0.2')).toBe(
      'stops the run as Failed once 20% of its combinations have failed (at least 1 trial)',
    );
    expect(describeMaxFailedTrials('0.07')).toMatch(/once 7% of/);
    for (const refusedByTheApi of ['', '0', '-1', '1.5', 'x'])
      expect(describeMaxFailedTrials(refusedByTheApi)).toBeUndefined();
  });

  it('sends a dataset window bound as typed: nothing when empty, epoch ms for digits, else the text', () => {
    expect(windowBound('  ')).toBeUndefined();
    expect(windowBound('1704067200000')).toBe(1704067200000);
    expect(windowBound(' 2024-01-10T00:00:00Z ')).toBe('2024-01-10T00:00:00Z');
    expect(windowBound('yesterday')).toBe('yesterday');
  });

  it('finds the issues of a 400 that belong to one field or below it', () => {
    const issues = [
      { field: 'dataset.from', reason: 'a' },
      { field: 'dataset', reason: 'b' },
      { field: 'datasetX', reason: 'c' },
      { field: 'maxFailedTrials', reason: 'd' },
    ];
    expect(issuesAt(issues, 'dataset').map((i) => i.reason)).toEqual(['a', 'b']);
    expect(issuesAt(issues, 'maxFailedTrials').map((i) => i.reason)).toEqual(['d']);
    expect(issuesAt(issues, 'dataset.to')).toEqual([]);
  });
});
