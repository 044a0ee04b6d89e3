import { barsChecksum, parseOhlcvCsv, parseTimestamp, type CsvParseResult } from './index';

function ok(result: CsvParseResult): Extract<CsvParseResult, { ok: true }> {
  if (!result.ok) throw new Error(`expected ok, got ${JSON.stringify(result.errors)}`);
  return result;
}

function errors(result: CsvParseResult): Extract<CsvParseResult, { ok: false }>['errors'] {
  if (result.ok) throw new Error('expected errors');
  return result.errors;
}

const HOURLY = ['2024-01-01T00:00:00Z', '2024-01-01T01:00:00Z', '2024-01-01T02:00:00Z'];

describe('parseOhlcvCsv: headers', () => {
  it.each([
    ['timestamp,open,high,low,close,volume'],
    ['Time,Open,High,Low,Close,Volume'],
    ['DATE,O,H,L,C,V'],
    ['datetime,open,high,low,adj close,vol'],
    ['ts,open,high,low,Adj_Close,volume'],
    [' Timestamp , Open , High , Low , Close , Volume '],
  ])('accepts header %j', (header) => {
    const csv = [header, `${HOURLY[0]},1,2,0.5,1.5,10`, `${HOURLY[1]},1.5,2,1,1.8,11`].join('\n');
    const r = ok(parseOhlcvCsv(csv));
    expect(r.bars.length).toBe(2);
    expect(Array.from(r.bars.close)).toEqual([1.5, 1.8]);
    expect(Array.from(r.bars.volume)).toEqual([10, 11]);
  });

  it('prefers close over adj close, ignores unknown columns, accepts a missing volume as 0', () => {
    const csv = ['date,symbol,open,high,low,close,adj close', '2024-01-01,X,1,2,0.5,1.5,1.4', '2024-01-02,X,1.5,2,1,1.8,1.7'].join('\n');
    const r = ok(parseOhlcvCsv(csv));
    expect(Array.from(r.bars.close)).toEqual([1.5, 1.8]);
    expect(Array.from(r.bars.volume)).toEqual([0, 0]);
    expect(r.timeframe).toBe('1d');
  });

  it('accepts semicolon-separated files, CRLF line ends, a BOM and blank lines', () => {
    const csv = '\uFEFFtime;open;high;low;close;volume\r\n1704067200;1;2;0.5;1.5;10\r\n\r\n1704070800;1.5;2;1;1.8;11\r\n';
    const r = ok(parseOhlcvCsv(csv));
    expect(Array.from(r.bars.time)).toEqual([1704067200000, 1704070800000]);
  });

  it('reports missing columns at line 1 with the accepted spellings', () => {
    expect(errors(parseOhlcvCsv('time,open,high,close\n1,1,1,1'))).toEqual([
      { line: 1, field: 'low', reason: 'missing column (accepted headers: low, l)' },
    ]);
  });

  it('reports duplicate columns', () => {
    expect(errors(parseOhlcvCsv('time,open,o,high,low,close\n'))[0]).toMatchObject({ line: 1, field: 'open', reason: 'duplicate column "o"' });
  });

  it('reports an empty file and a header without rows', () => {
    expect(errors(parseOhlcvCsv(''))[0]).toMatchObject({ line: 1, reason: expect.stringContaining('empty file') as string });
    expect(errors(parseOhlcvCsv('time,open,high,low,close\n'))[0]).toMatchObject({ line: 1, reason: 'no data rows' });
  });
});

describe('parseOhlcvCsv: timestamps', () => {
  it.each([
    ['2024-01-01T00:00:00Z', Date.UTC(2024, 0, 1)],
    ['2024-01-01T00:00:00', Date.UTC(2024, 0, 1)], // no offset → UTC (never the server's zone)
    ['2024-01-01 00:00', Date.UTC(2024, 0, 1)],
    ['2024-01-01', Date.UTC(2024, 0, 1)],
    ['2024-01-01T02:00:00+02:00', Date.UTC(2024, 0, 1)],
    ['2023-12-31T19:00:00-0500', Date.UTC(2024, 0, 1)],
    ['2024-01-01T00:00:00.250Z', Date.UTC(2024, 0, 1) + 250],
    ['1704067200', Date.UTC(2024, 0, 1)], // epoch seconds
    ['1704067200000', Date.UTC(2024, 0, 1)], // epoch milliseconds
    ['1704067200.5', Date.UTC(2024, 0, 1) + 500],
  ])('parses %j', (raw, expected) => {
    expect(parseTimestamp(raw)).toBe(expected);
  });

  it.each(['2024-13-01', '2024-02-30', '2024-01-01T25:00:00Z', 'yesterday', '', '-5', '1969-12-31'])('rejects %j', (raw) => {
    expect(parseTimestamp(raw)).toBeUndefined();
  });

  it('infers the timeframe from the median spacing, tolerating gaps', () => {
    const rows = [0, 5, 10, 15, 40, 45].map((m) => `${1704067200 + m * 60},1,2,0.5,1.5,1`);
    const r = ok(parseOhlcvCsv(['time,open,high,low,close,volume', ...rows].join('\n')));
    expect(r).toMatchObject({ timeframe: '5m', inferredTimeframe: true });
    expect(r.bars.timeframe).toBe('5m');
  });

  it('uses a given timeframe without inferring', () => {
    const csv = ['time,open,high,low,close', '1704067200,1,2,0.5,1.5'].join('\n');
    expect(ok(parseOhlcvCsv(csv, { timeframe: '4h' }))).toMatchObject({ timeframe: '4h', inferredTimeframe: false });
  });

  it('fails when the spacing matches no timeframe or cannot be inferred', () => {
    const odd = ['time,open,high,low,close', '1704067200,1,2,0.5,1.5', '1704067207,1,2,0.5,1.5', '1704067214,1,2,0.5,1.5'].join('\n');
    expect(errors(parseOhlcvCsv(odd))[0]).toMatchObject({ line: 1, field: 'timestamp', reason: expect.stringContaining('7000 ms matches no timeframe') as string });
    const single = ['time,open,high,low,close', '1704067200,1,2,0.5,1.5'].join('\n');
    expect(errors(parseOhlcvCsv(single))[0]?.reason).toContain('single row');
  });
});

describe('parseOhlcvCsv: row validation with file line numbers', () => {
  const header = 'timestamp,open,high,low,close,volume';
  const good = (i: number): string => `${1704067200 + i * 3600},10,11,9,10.5,100`;

  it.each([
    ['unparseable number', '1704078000,abc,11,9,10.5,100', { field: 'open', reason: 'not a number: "abc"' }],
    ['NaN', '1704078000,10,NaN,9,10.5,100', { field: 'high', reason: 'must be a finite number, got "NaN"' }],
    ['Infinity', '1704078000,10,11,9,Infinity,100', { field: 'close', reason: 'must be a finite number, got "Infinity"' }],
    ['empty value', '1704078000,10,11,,10.5,100', { field: 'low', reason: 'missing value' }],
    ['high below the body', '1704078000,10,10.2,9,10.5,100', { field: 'high', reason: 'high (10.2) must be >= max(open, close) (10.5)' }],
    ['low above the body', '1704078000,10,11,10.1,10.5,100', { field: 'low', reason: 'low (10.1) must be <= min(open, close) (10)' }],
    ['negative volume', '1704078000,10,11,9,10.5,-1', { field: 'volume', reason: 'must be >= 0, got -1' }],
    ['non-positive price', '1704078000,10,11,-0.5,10.5,1', { field: 'low', reason: 'must be > 0, got -0.5' }],
    ['bad timestamp', 'tomorrow,10,11,9,10.5,100', { field: 'timestamp', reason: expect.stringContaining('not a timestamp') as string }],
    ['wrong column count', '1704078000,10,11,9', { reason: 'expected 6 columns, got 4' }],
  ])('%s → the right line, field and reason', (_name, badRow, expected) => {
    // header = line 1, good rows = lines 2–4, blank line 5, bad row = line 6, good row line 7
    const csv = [header, good(0), good(1), good(2), '', badRow, good(4)].join('\n');
    expect(errors(parseOhlcvCsv(csv))).toEqual([{ line: 6, ...expected }]);
  });

  it('reports non-increasing timestamps at the offending line', () => {
    const csv = [header, good(0), good(1), good(1), good(0)].join('\n');
    const errs = errors(parseOhlcvCsv(csv));
    expect(errs.map((e) => [e.line, e.field])).toEqual([
      [4, 'timestamp'],
      [5, 'timestamp'],
    ]);
    expect(errs[0]?.reason).toBe('timestamps must be strictly increasing: 2024-01-01T01:00:00.000Z is not after 2024-01-01T01:00:00.000Z (line 3)');
  });

  it('reports several problems of one row and stops after 20 errors', () => {
    const rows = Array.from({ length: 30 }, (_, i) => `${1704067200 + i * 3600},x,11,9,10.5,100`);
    const errs = errors(parseOhlcvCsv([header, ...rows].join('\n')));
    expect(errs).toHaveLength(21);
    expect(errs[0]).toEqual({ line: 2, field: 'open', reason: 'not a number: "x"' });
    expect(errs[20]).toEqual({ line: 22, reason: 'too many errors; stopped reporting after 20' });
  });

  it('reports malformed CSV (an unclosed quote) with its line', () => {
    const errs = errors(parseOhlcvCsv([header, good(0), '"1704070800,10,11,9,10.5,100'].join('\n')));
    expect(errs[0]?.line).toBe(3);
    expect(errs[0]?.reason).toContain('malformed CSV');
  });

  it('produces the same checksum for the same data in different spellings', () => {
    const a = ok(parseOhlcvCsv([header, good(0), good(1)].join('\n')));
    const b = ok(parseOhlcvCsv(['Date,O,H,L,C,V', '2024-01-01T00:00:00Z,10,11,9,10.5,100', '2024-01-01T01:00:00+00:00,10,11,9,10.5,100'].join('\n')));
    expect(barsChecksum(a.bars)).toBe(barsChecksum(b.bars));
  });
});
