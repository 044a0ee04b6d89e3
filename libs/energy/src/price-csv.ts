import { parseTimestamp, readCsvRecords, type CsvError, type CsvRecord } from '@runforge/engine';
import { INTERVAL_MINUTES, MAX_INTERVALS, type IntervalMinutes, type PriceSeries } from './schemas';

export type PriceCsvResult = { ok: true; series: PriceSeries } | { ok: false; errors: CsvError[] };

export const PRICE_CSV_MAX_ERRORS = 20;

type Column = 'timestamp' | 'dayAhead' | 'intraday' | 'load' | 'pv';

/** Header name (lower-cased), the units it may carry as a suffix (`day_ahead_eur_mwh`), and where it goes. */
const COLUMNS: ReadonlyArray<{ column: Column; name: string; units: readonly string[] }> = [
  { column: 'timestamp', name: 'timestamp', units: [] },
  { column: 'dayAhead', name: 'day_ahead', units: ['eur_mwh', 'eur_per_mwh'] },
  { column: 'intraday', name: 'intraday', units: ['eur_mwh', 'eur_per_mwh'] },
  { column: 'load', name: 'load', units: ['mw'] },
  { column: 'pv', name: 'pv', units: ['mw'] },
];
const HEADER_HELP = 'timestamp, day_ahead[, intraday, load, pv]; units may follow: day_ahead_eur_mwh, load_mw';

const NUMBER_RE = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/;
const MINUTE_MS = 60_000;

interface Stamp {
  ms: number;
  raw: string;
  line: number;
}

/** `line 7: timestamp … is not after the previous one`. */
export function formatCsvError(error: CsvError): string {
  return `line ${error.line}: ${error.reason}`;
}

/**
 * Parses a price series: a header naming the columns, then one row per market interval. Checks
 * every row (finite numbers, strictly increasing timestamps, one interval length of 15, 30 or 60
 * minutes, no gaps) and reports up to PRICE_CSV_MAX_ERRORS problems with their line. A file with
 * one row cannot show its interval: pass `intervalMinutes`.
 */
export function parsePriceCsv(text: string, opts?: { intervalMinutes?: IntervalMinutes }): PriceCsvResult {
  const read = readCsvRecords(text);
  if (!read.ok) return { ok: false, errors: [read.error] };
  const records = read.records;
  const header = records[0];
  if (header === undefined) return fail(1, 'empty file: expected a header and at least one row');

  const { index, errors } = readHeader(header.record);
  if (errors.length > 0) return { ok: false, errors };
  const rows = records.length - 1;
  if (rows === 0) return fail(1, 'no data rows');
  if (rows > MAX_INTERVALS) return fail(1, `too many rows: ${rows} (at most ${MAX_INTERVALS})`);

  const columns = [...index.keys()].filter((c): c is Exclude<Column, 'timestamp'> => c !== 'timestamp');
  const values = new Map(columns.map((c) => [c, new Array<number>(rows)]));
  const report = reporter(errors);
  const stamps: Stamp[] = [];

  for (let r = 0; r < rows; r++) {
    const { record, info } = records[r + 1] as CsvRecord;
    const line = info.lines;
    if (record.length !== header.record.length) {
      report({ line, reason: `expected ${header.record.length} columns, got ${record.length}` });
      continue;
    }
    const raw = record[index.get('timestamp') as number] ?? '';
    const ms = parseTimestamp(raw);
    if (ms === undefined) report({ line, field: 'timestamp', reason: `timestamp "${raw}" is not an ISO-8601 instant` });
    else stamps.push({ ms, raw, line });
    for (const column of columns) {
      const cell = record[index.get(column) as number] ?? '';
      const v = Number(cell);
      const name = COLUMNS.find((c) => c.column === column)?.name ?? column;
      if (cell === '') report({ line, field: column, reason: `${name} is empty` });
      else if (!NUMBER_RE.test(cell) || !Number.isFinite(v))
        report({ line, field: column, reason: `${name} "${cell}" is not a finite number` });
      else (values.get(column) as number[])[r] = v;
    }
  }

  // The interval is the shortest step between rows, so one missing row reads as a gap, not as the interval.
  let stepMs = opts?.intervalMinutes === undefined ? undefined : opts.intervalMinutes * MINUTE_MS;
  if (stepMs === undefined) {
    let shortest: { gapMs: number; line: number } | undefined;
    for (let i = 1; i < stamps.length; i++) {
      const gapMs = (stamps[i] as Stamp).ms - (stamps[i - 1] as Stamp).ms;
      if (gapMs > 0 && (shortest === undefined || gapMs < shortest.gapMs))
        shortest = { gapMs, line: (stamps[i] as Stamp).line };
    }
    if (shortest !== undefined && !INTERVAL_MINUTES.some((m) => m * MINUTE_MS === shortest.gapMs)) {
      report({
        line: shortest.line,
        field: 'timestamp',
        reason: `${minutes(shortest.gapMs)} minutes after the previous timestamp: the interval must be 15, 30 or 60 minutes`,
      });
    } else {
      stepMs = shortest?.gapMs;
    }
  }
  for (let i = 1; i < stamps.length; i++) {
    const prev = stamps[i - 1] as Stamp;
    const { ms, raw, line } = stamps[i] as Stamp;
    const gapMs = ms - prev.ms;
    if (gapMs <= 0) {
      report({
        line,
        field: 'timestamp',
        reason: `timestamp ${raw} is not after the previous one (${prev.raw}, line ${prev.line})`,
      });
    } else if (stepMs !== undefined && gapMs !== stepMs) {
      report({ line, field: 'timestamp', reason: gapReason(gapMs, stepMs, raw) });
    }
  }
  errors.sort((a, b) => a.line - b.line);
  if (errors.length === 0 && stepMs === undefined) {
    errors.push({
      line: 1,
      field: 'timestamp',
      reason: 'one row cannot show the interval length: pass intervalMinutes',
    });
  }
  const first = stamps[0];
  if (errors.length > 0 || first === undefined || stepMs === undefined) return { ok: false, errors };

  const series: PriceSeries = {
    start: new Date(first.ms).toISOString(),
    intervalMinutes: minutes(stepMs) as IntervalMinutes,
    dayAhead: values.get('dayAhead') as number[],
  };
  for (const column of ['intraday', 'load', 'pv'] as const) {
    const v = values.get(column);
    if (v !== undefined) series[column] = v;
  }
  return { ok: true, series };
}

function readHeader(names: readonly string[]): { index: Map<Column, number>; errors: CsvError[] } {
  const index = new Map<Column, number>();
  const errors: CsvError[] = [];
  names.forEach((raw, position) => {
    const name = raw.trim().toLowerCase();
    const spec = COLUMNS.find((c) => name === c.name || name.startsWith(`${c.name}_`));
    if (spec === undefined) {
      errors.push({ line: 1, reason: `unknown column "${raw}" (expected ${HEADER_HELP})` });
      return;
    }
    const unit = name.slice(spec.name.length + 1);
    if (unit !== '' && !spec.units.includes(unit)) {
      const accepted = spec.units.length === 0 ? 'no unit' : spec.units.join(' or ');
      errors.push({
        line: 1,
        field: spec.column,
        reason: `column "${raw}": unit "${unit}" is not accepted (${accepted})`,
      });
    } else if (index.has(spec.column)) {
      errors.push({ line: 1, field: spec.column, reason: `duplicate column "${raw}"` });
    } else {
      index.set(spec.column, position);
    }
  });
  for (const required of ['timestamp', 'day_ahead']) {
    const spec = COLUMNS.find((c) => c.name === required);
    if (spec !== undefined && !index.has(spec.column) && !errors.some((e) => e.field === spec.column)) {
      errors.push({ line: 1, field: spec.column, reason: `missing column ${required} (expected ${HEADER_HELP})` });
    }
  }
  return { index, errors };
}

function gapReason(gapMs: number, stepMs: number, raw: string): string {
  if (gapMs % stepMs === 0) {
    const missing = gapMs / stepMs - 1;
    return `${missing} interval${missing === 1 ? '' : 's'} missing before ${raw} (the series' interval is ${minutes(stepMs)} minutes)`;
  }
  return `${minutes(gapMs)} minutes after the previous timestamp, not the series' interval of ${minutes(stepMs)} minutes`;
}

function minutes(ms: number): number {
  return ms / MINUTE_MS;
}

function reporter(errors: CsvError[]): (e: CsvError) => void {
  let truncated = false;
  return (e) => {
    if (errors.length < PRICE_CSV_MAX_ERRORS) errors.push(e);
    else if (!truncated) {
      truncated = true;
      errors.push({ line: e.line, reason: `too many errors; stopped reporting after ${PRICE_CSV_MAX_ERRORS}` });
    }
  };
}

function fail(line: number, reason: string): PriceCsvResult {
  return { ok: false, errors: [{ line, reason }] };
}
