import { combinationCount, fmtSeconds, parseAxis } from '../src/format';

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
    expect(parseAxis({ mode: 'range', min: '10', max: '5', step: '1' }, 'integer')).toEqual({ error: 'max must be at least min' });
    expect(parseAxis({ mode: 'range', min: '1', max: '5', step: '0' }, 'integer')).toEqual({ error: 'step must be positive' });
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
