import { EngineError, ENGINE_ERROR_CODES } from './errors';
import type { Timeframe } from './timeframe';

/**
 * Columnar OHLCV. Columns rather than an array of bar objects: the hot loop reads one or two
 * columns sequentially from flat Float64Arrays (cache-friendly, no per-bar objects or GC).
 */
export interface Bars {
  readonly length: number;
  readonly timeframe: Timeframe;
  /** Epoch ms of each bar's open, strictly increasing. */
  readonly time: Float64Array;
  readonly open: Float64Array;
  readonly high: Float64Array;
  readonly low: Float64Array;
  readonly close: Float64Array;
  readonly volume: Float64Array;
}

export interface BarColumns {
  timeframe: Timeframe;
  time: ArrayLike<number>;
  open: ArrayLike<number>;
  high: ArrayLike<number>;
  low: ArrayLike<number>;
  close: ArrayLike<number>;
  volume?: ArrayLike<number>;
}

/**
 * Builds `Bars` from plain columns (copied into Float64Arrays). Checks only that the columns
 * have equal lengths; content validation is the CSV parser's job, and the engine itself fails
 * with INVALID_NUMBERS if non-finite values reach the metrics.
 */
export function barsFromColumns(columns: BarColumns): Bars {
  const n = columns.time.length;
  for (const name of ['open', 'high', 'low', 'close', 'volume'] as const) {
    const col = columns[name];
    if (col !== undefined && col.length !== n) {
      throw new EngineError(ENGINE_ERROR_CODES.SPEC_INVALID, `column ${name} has ${col.length} values, time has ${n}`);
    }
  }
  return {
    length: n,
    timeframe: columns.timeframe,
    time: Float64Array.from(columns.time),
    open: Float64Array.from(columns.open),
    high: Float64Array.from(columns.high),
    low: Float64Array.from(columns.low),
    close: Float64Array.from(columns.close),
    volume: columns.volume === undefined ? new Float64Array(n) : Float64Array.from(columns.volume),
  };
}

/** First index whose time is >= t (binary search; `time` is strictly increasing). */
function lowerBound(time: Float64Array, t: number): number {
  let lo = 0;
  let hi = time.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if ((time[mid] as number) < t) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/**
 * Bars with `fromMs <= time <= toMs` (both inclusive, both optional). The columns are
 * `subarray` views sharing memory with the input: O(log n), no copy.
 */
export function sliceBars(bars: Bars, fromMs?: number, toMs?: number): Bars {
  const start = fromMs === undefined ? 0 : lowerBound(bars.time, fromMs);
  // Inclusive upper bound: first index strictly after toMs.
  const end = toMs === undefined ? bars.length : Math.max(start, upperBound(bars.time, toMs));
  return {
    length: end - start,
    timeframe: bars.timeframe,
    time: bars.time.subarray(start, end),
    open: bars.open.subarray(start, end),
    high: bars.high.subarray(start, end),
    low: bars.low.subarray(start, end),
    close: bars.close.subarray(start, end),
    volume: bars.volume.subarray(start, end),
  };
}

function upperBound(time: Float64Array, t: number): number {
  let lo = 0;
  let hi = time.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if ((time[mid] as number) <= t) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}
