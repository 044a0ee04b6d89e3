import { parse } from 'csv-parse/sync';
import type { Bars } from './bars';
import { isTimeframe, timeframeFromMs, TIMEFRAMES, type Timeframe } from './timeframe';

export interface CsvError {
  /** 1-based line in the file; the header is line 1. File-level problems are reported at line 1. */
  line: number;
  field?: string;
  reason: string;
}

export type CsvParseResult =
  | { ok: true; bars: Bars; timeframe: Timeframe; inferredTimeframe: boolean }
  | { ok: false; errors: CsvError[] };

export const CSV_MAX_ERRORS = 20;

type Column = 'timestamp' | 'open' | 'high' | 'low' | 'close' | 'adjClose' | 'volume';

/** Accepted header spellings (compared after trimming and lower-casing). */
const HEADER_ALIASES: ReadonlyArray<readonly [Column, RegExp]> = [
  ['timestamp', /^(timestamp|time|date|datetime|ts)$/],
  ['open', /^(open|o)$/],
  ['high', /^(high|h)$/],
  ['low', /^(low|l)$/],
  ['close', /^(close|c)$/],
  ['adjClose', /^adj[ ._]*close$/],
  ['volume', /^(volume|vol|v)$/],
];

const NUMBER_RE = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/;
const NON_FINITE_RE = /^[+-]?(nan|inf|infinity)$/i;
const EPOCH_RE = /^\d+(\.\d+)?$/;
const ISO_RE = /^(\d{4})-(\d{2})-(\d{2})(?:[Tt ](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?)?\s*([Zz]|[+-]\d{2}:?\d{2})?$/;
/**
 * Epoch values below 1e11 are seconds (1e11 s is the year 5138), values from 1e11 up are
 * milliseconds (1e11 ms is March 1973): the one ambiguity is ms timestamps before 1973.
 */
const EPOCH_SECONDS_BELOW = 1e11;
const MAX_EPOCH_MS = 8.64e15;

function daysInMonth(year: number, month: number): number {
  return [31, year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0) ? 29 : 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31][month - 1] ?? 0;
}

/**
 * Epoch ms, or undefined. ISO-8601 is parsed by hand rather than with Date.parse, which reads a
 * date-time without an offset as *local* time: the same file would load differently per server
 * time zone. Here a missing offset means UTC.
 */
export function parseTimestamp(raw: string): number | undefined {
  if (EPOCH_RE.test(raw)) {
    const v = Number(raw);
    const ms = Math.round(v < EPOCH_SECONDS_BELOW ? v * 1000 : v);
    return ms <= MAX_EPOCH_MS ? ms : undefined;
  }
  const m = ISO_RE.exec(raw);
  if (m === null) return undefined;
  const [, ys, mos, ds, hs, mins, ss, frac, tz] = m;
  const year = Number(ys);
  const month = Number(mos);
  const day = Number(ds);
  const hour = hs === undefined ? 0 : Number(hs);
  const minute = mins === undefined ? 0 : Number(mins);
  const second = ss === undefined ? 0 : Number(ss);
  if (year < 1970 || month < 1 || month > 12 || day < 1 || day > daysInMonth(year, month)) return undefined;
  if (hour > 23 || minute > 59 || second > 59) return undefined;
  const millis = frac === undefined ? 0 : Math.floor(Number(`0.${frac}`) * 1000 + 1e-6);
  let offsetMin = 0;
  if (tz !== undefined && tz !== 'Z' && tz !== 'z') {
    const sign = tz.startsWith('-') ? -1 : 1;
    const digits = tz.slice(1).replace(':', '');
    const oh = Number(digits.slice(0, 2));
    const om = Number(digits.slice(2));
    if (oh > 23 || om > 59) return undefined;
    offsetMin = sign * (oh * 60 + om);
  }
  return Date.UTC(year, month - 1, day, hour, minute, second, millis) - offsetMin * 60_000;
}

/** Looks at the header only: a file whose header has no comma but a semicolon or tab uses that. */
function detectDelimiter(text: string): string {
  const nl = text.indexOf('\n');
  const header = nl === -1 ? text : text.slice(0, nl);
  if (header.includes(',')) return ',';
  if (header.includes(';')) return ';';
  if (header.includes('\t')) return '\t';
  return ',';
}

/** A CSV row and the file line it starts on. */
export interface CsvRecord {
  record: string[];
  info: { lines: number };
}

/**
 * A CSV file's rows, as every RunForge upload reads them (csv-parse: BOM, the header's delimiter,
 * trimmed cells, blank lines skipped, rows of any length), or what made it unreadable, with its line.
 */
export function readCsvRecords(text: string): { ok: true; records: CsvRecord[] } | { ok: false; error: CsvError } {
  try {
    const records = parse(text, {
      bom: true,
      delimiter: detectDelimiter(text),
      info: true,
      relax_column_count: true,
      skip_empty_lines: true,
      trim: true,
    }) as unknown as CsvRecord[];
    return { ok: true, records };
  } catch (err) {
    const lines = (err as { lines?: unknown }).lines;
    const line = typeof lines === 'number' && lines > 0 ? lines : 1;
    return { ok: false, error: { line, reason: `malformed CSV: ${(err as Error).message}` } };
  }
}

/**
 * Parses and validates an OHLCV CSV. Every row is checked (parseable finite numbers, prices > 0,
 * high >= max(open, close), low <= min(open, close), volume >= 0, strictly increasing
 * timestamps); up to CSV_MAX_ERRORS problems are reported with their file line. Volume is
 * optional (0 when absent); `close` wins over `adj close` when both exist. Without
 * `opts.timeframe`, the timeframe is the one whose length equals the median bar spacing.
 */
export function parseOhlcvCsv(text: string, opts?: { timeframe?: Timeframe }): CsvParseResult {
  const errors: CsvError[] = [];
  if (opts?.timeframe !== undefined && !isTimeframe(opts.timeframe)) {
    return { ok: false, errors: [{ line: 1, field: 'timeframe', reason: `must be one of ${TIMEFRAMES.join(', ')}` }] };
  }
  const read = readCsvRecords(text);
  if (!read.ok) return { ok: false, errors: [read.error] };
  const records = read.records;

  const header = records[0];
  if (header === undefined) return { ok: false, errors: [{ line: 1, reason: 'empty file: expected a header and at least one row' }] };

  // Map canonical columns to their index in the file.
  const index = new Map<Column, number>();
  header.record.forEach((name, col) => {
    const key = name.trim().toLowerCase();
    const match = HEADER_ALIASES.find(([, re]) => re.test(key));
    if (match === undefined) return; // extra columns are ignored
    if (index.has(match[0])) errors.push({ line: 1, field: match[0], reason: `duplicate column "${name}"` });
    else index.set(match[0], col);
  });
  const closeCol = index.get('close') ?? index.get('adjClose');
  const required: [string, number | undefined][] = [
    ['timestamp', index.get('timestamp')],
    ['open', index.get('open')],
    ['high', index.get('high')],
    ['low', index.get('low')],
    ['close', closeCol],
  ];
  for (const [name, col] of required) {
    if (col === undefined) errors.push({ line: 1, field: name, reason: `missing column (accepted headers: ${acceptedHeaders(name)})` });
  }
  if (errors.length > 0) return { ok: false, errors };
  const cols = {
    timestamp: index.get('timestamp') as number,
    open: index.get('open') as number,
    high: index.get('high') as number,
    low: index.get('low') as number,
    close: closeCol as number,
    volume: index.get('volume'),
  };

  const rows = records.length - 1;
  if (rows === 0) return { ok: false, errors: [{ line: 1, reason: 'no data rows' }] };
  const time = new Float64Array(rows);
  const open = new Float64Array(rows);
  const high = new Float64Array(rows);
  const low = new Float64Array(rows);
  const close = new Float64Array(rows);
  const volume = new Float64Array(rows);
  const width = header.record.length;
  let prevTime = -Infinity;
  let prevLine = 0;
  let truncated = false;

  const report = (e: CsvError): void => {
    if (errors.length < CSV_MAX_ERRORS) errors.push(e);
    else if (!truncated) {
      truncated = true;
      errors.push({ line: e.line, reason: `too many errors; stopped reporting after ${CSV_MAX_ERRORS}` });
    }
  };

  for (let r = 0; r < rows; r++) {
    const { record, info } = records[r + 1] as CsvRecord;
    const line = info.lines;
    if (record.length !== width) {
      report({ line, reason: `expected ${width} columns, got ${record.length}` });
      continue;
    }
    let rowOk = true;
    const num = (field: string, col: number): number => {
      const raw = record[col] ?? '';
      if (raw === '') report({ line, field, reason: 'missing value' });
      else if (NON_FINITE_RE.test(raw)) report({ line, field, reason: `must be a finite number, got "${raw}"` });
      else if (!NUMBER_RE.test(raw)) report({ line, field, reason: `not a number: "${raw}"` });
      else return Number(raw);
      rowOk = false;
      return NaN;
    };
    const rawTs = record[cols.timestamp] ?? '';
    const t = parseTimestamp(rawTs);
    if (t === undefined) {
      report({ line, field: 'timestamp', reason: `not a timestamp (ISO-8601, epoch seconds or epoch milliseconds): "${rawTs}"` });
      rowOk = false;
    }
    const o = num('open', cols.open);
    const h = num('high', cols.high);
    const l = num('low', cols.low);
    const c = num('close', cols.close);
    const v = cols.volume === undefined ? 0 : num('volume', cols.volume);
    if (rowOk) {
      for (const [field, p] of [['open', o], ['high', h], ['low', l], ['close', c]] as const) {
        if (!(p > 0)) {
          report({ line, field, reason: `must be > 0, got ${p}` });
          rowOk = false;
        }
      }
      if (h < Math.max(o, c)) {
        report({ line, field: 'high', reason: `high (${h}) must be >= max(open, close) (${Math.max(o, c)})` });
        rowOk = false;
      }
      if (l > Math.min(o, c)) {
        report({ line, field: 'low', reason: `low (${l}) must be <= min(open, close) (${Math.min(o, c)})` });
        rowOk = false;
      }
      if (!(v >= 0)) {
        report({ line, field: 'volume', reason: `must be >= 0, got ${v}` });
        rowOk = false;
      }
    }
    if (t !== undefined) {
      if (t <= prevTime) {
        report({ line, field: 'timestamp', reason: `timestamps must be strictly increasing: ${iso(t)} is not after ${iso(prevTime)} (line ${prevLine})` });
        rowOk = false;
      }
      // Order is judged against the last parseable timestamp even if that row failed otherwise.
      prevTime = t;
      prevLine = line;
    }
    if (rowOk) {
      time[r] = t as number;
      open[r] = o;
      high[r] = h;
      low[r] = l;
      close[r] = c;
      volume[r] = v;
    }
  }
  if (errors.length > 0) return { ok: false, errors };

  let timeframe = opts?.timeframe;
  const inferredTimeframe = timeframe === undefined;
  if (timeframe === undefined) {
    if (rows < 2) {
      return { ok: false, errors: [{ line: 1, field: 'timestamp', reason: 'cannot infer the timeframe from a single row; pass a timeframe' }] };
    }
    const spacing = medianSpacing(time);
    timeframe = timeframeFromMs(spacing);
    if (timeframe === undefined) {
      return {
        ok: false,
        errors: [{ line: 1, field: 'timestamp', reason: `median bar spacing of ${spacing} ms matches no timeframe (${TIMEFRAMES.join(', ')}); pass a timeframe` }],
      };
    }
  }
  return { ok: true, bars: { length: rows, timeframe, time, open, high, low, close, volume }, timeframe, inferredTimeframe };
}

/** Lower median of consecutive differences: always an actually observed spacing. */
function medianSpacing(time: Float64Array): number {
  const diffs = new Float64Array(time.length - 1);
  for (let i = 1; i < time.length; i++) diffs[i - 1] = (time[i] as number) - (time[i - 1] as number);
  diffs.sort();
  return diffs[(diffs.length - 1) >> 1] as number;
}

function iso(ms: number): string {
  return new Date(ms).toISOString();
}

function acceptedHeaders(column: string): string {
  switch (column) {
    case 'timestamp':
      return 'timestamp, time, date, datetime, ts';
    case 'open':
      return 'open, o';
    case 'high':
      return 'high, h';
    case 'low':
      return 'low, l';
    case 'close':
      return 'close, c, adj close';
    default:
      return column;
  }
}
