import { formatCsvError, parsePriceCsv, PriceSeriesSchema, type PriceCsvResult } from './index';

function ok(result: PriceCsvResult): Extract<PriceCsvResult, { ok: true }> {
  if (!result.ok) throw new Error(`expected ok, got ${JSON.stringify(result.errors)}`);
  return result;
}

function messages(result: PriceCsvResult): string[] {
  if (result.ok) throw new Error('expected errors');
  return result.errors.map(formatCsvError);
}

describe('parsePriceCsv', () => {
  it('reads a series with units in the header and the optional columns', () => {
    const csv = [
      'timestamp,day_ahead_eur_mwh,intraday_eur_mwh,load_mw,pv_mw',
      '2026-01-01T00:00:00Z,45.5,47,3.2,0',
      '2026-01-01T00:15:00Z,-3,-1.25,3.1,0',
      '2026-01-01T00:30:00Z,40,41,3,0.5',
    ].join('\n');
    const { series } = ok(parsePriceCsv(csv));

    expect(series).toEqual({
      start: '2026-01-01T00:00:00.000Z',
      intervalMinutes: 15,
      dayAhead: [45.5, -3, 40],
      intraday: [47, -1.25, 41],
      load: [3.2, 3.1, 3],
      pv: [0, 0, 0.5],
    });
    expect(PriceSeriesSchema.safeParse(series).success).toBe(true);
  });

  it('accepts offsets, semicolons, CRLF, a BOM and blank lines', () => {
    const csv = '\uFEFFTimestamp;Day_Ahead\r\n2026-01-01T01:00:00+01:00;10\r\n\r\n2026-01-01T02:00:00+01:00;20\r\n';
    const { series } = ok(parsePriceCsv(csv));

    expect(series).toEqual({ start: '2026-01-01T00:00:00.000Z', intervalMinutes: 60, dayAhead: [10, 20] });
  });

  it('reports timestamps out of order with their line', () => {
    const csv = [
      'timestamp,day_ahead',
      '2026-01-01T00:00:00Z,1',
      '2026-01-01T00:15:00Z,1',
      '2026-01-01T00:30:00Z,1',
      '2026-01-01T00:45:00Z,1',
      '2026-01-01T01:00:00Z,1',
      '2026-01-01T01:00:00Z,1',
    ].join('\n');

    expect(messages(parsePriceCsv(csv))).toEqual([
      'line 7: timestamp 2026-01-01T01:00:00Z is not after the previous one (2026-01-01T01:00:00Z, line 6)',
    ]);
  });

  it('reports gaps against the series interval, taken from its shortest step', () => {
    // The first step (30 min) is itself a gap: the interval is 15 minutes, the shortest step.
    const csv = [
      'timestamp,day_ahead',
      '2026-01-01T00:00:00Z,1',
      '2026-01-01T00:30:00Z,1',
      '2026-01-01T00:45:00Z,1',
      '2026-01-01T01:05:00Z,1',
    ].join('\n');

    expect(messages(parsePriceCsv(csv))).toEqual([
      "line 3: 1 interval missing before 2026-01-01T00:30:00Z (the series' interval is 15 minutes)",
      "line 5: 20 minutes after the previous timestamp, not the series' interval of 15 minutes",
    ]);
  });

  it('accepts only 15, 30 or 60 minute intervals', () => {
    const csv = 'timestamp,day_ahead\n2026-01-01T00:00:00Z,1\n2026-01-01T00:05:00Z,1\n';

    expect(messages(parsePriceCsv(csv))).toEqual([
      'line 3: 5 minutes after the previous timestamp: the interval must be 15, 30 or 60 minutes',
    ]);
  });

  it('reports bad cells with their line and column', () => {
    const csv = [
      'timestamp,day_ahead,intraday',
      '2026-01-01T00:00:00Z,1,2',
      'yesterday,1,2',
      '2026-01-01T01:00:00Z,,2',
      '2026-01-01T02:00:00Z,NaN,abc',
      '2026-01-01T03:00:00Z,1',
    ].join('\n');

    expect(messages(parsePriceCsv(csv))).toEqual([
      'line 3: timestamp "yesterday" is not an ISO-8601 instant',
      'line 4: day_ahead is empty',
      'line 5: day_ahead "NaN" is not a finite number',
      'line 5: intraday "abc" is not a finite number',
      'line 6: expected 3 columns, got 2',
    ]);
  });

  it('reports header problems at line 1', () => {
    expect(messages(parsePriceCsv('time,day_ahead\n2026-01-01T00:00:00Z,1'))).toEqual([
      'line 1: unknown column "time" (expected timestamp, day_ahead[, intraday, load, pv]; units may follow: day_ahead_eur_mwh, load_mw)',
      'line 1: missing column timestamp (expected timestamp, day_ahead[, intraday, load, pv]; units may follow: day_ahead_eur_mwh, load_mw)',
    ]);
    expect(messages(parsePriceCsv('timestamp,day_ahead_usd_mwh\n'))).toEqual([
      'line 1: column "day_ahead_usd_mwh": unit "usd_mwh" is not accepted (eur_mwh or eur_per_mwh)',
    ]);
    expect(messages(parsePriceCsv('timestamp,day_ahead,day_ahead_eur_mwh\n'))).toEqual([
      'line 1: duplicate column "day_ahead_eur_mwh"',
    ]);
    expect(messages(parsePriceCsv(''))).toEqual(['line 1: empty file: expected a header and at least one row']);
    expect(messages(parsePriceCsv('timestamp,day_ahead\n'))).toEqual(['line 1: no data rows']);
  });

  it('needs the interval for a single row', () => {
    const csv = 'timestamp,day_ahead\n2026-01-01T00:00:00Z,7\n';

    expect(messages(parsePriceCsv(csv))).toEqual([
      'line 1: one row cannot show the interval length: pass intervalMinutes',
    ]);
    expect(ok(parsePriceCsv(csv, { intervalMinutes: 30 })).series).toEqual({
      start: '2026-01-01T00:00:00.000Z',
      intervalMinutes: 30,
      dayAhead: [7],
    });
  });

  it('stops listing after 20 problems', () => {
    const rows = Array.from({ length: 30 }, (_, i) => `2026-01-01T${String(i % 24).padStart(2, '0')}:00:00Z,x`);
    const result = parsePriceCsv(['timestamp,day_ahead', ...rows].join('\n'));

    expect(result.ok).toBe(false);
    expect(messages(result)).toHaveLength(21);
    expect(messages(result)[20]).toBe('line 22: too many errors; stopped reporting after 20');
  });
});
