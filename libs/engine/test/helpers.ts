import { barsFromColumns, type Bars, type Timeframe } from '../src';

export type Row = readonly [time: number, open: number, high: number, low: number, close: number, volume: number];

/** Bars from row tuples [time, open, high, low, close, volume] — the shape golden files use. */
export function barsFromRows(timeframe: Timeframe, rows: readonly Row[]): Bars {
  return barsFromColumns({
    timeframe,
    time: rows.map((r) => r[0]),
    open: rows.map((r) => r[1]),
    high: rows.map((r) => r[2]),
    low: rows.map((r) => r[3]),
    close: rows.map((r) => r[4]),
    volume: rows.map((r) => r[5]),
  });
}

/** Bars from closes alone: open = previous close, high/low hug the body, 1h spacing. */
export function barsFromCloses(closes: readonly number[], opens?: readonly number[]): Bars {
  return barsFromRows(
    '1h',
    closes.map((c, i) => {
      const o = opens?.[i] ?? (i === 0 ? c : closes[i - 1]) ?? c;
      return [Date.UTC(2021, 0, 1) + i * 3_600_000, o, Math.max(o, c), Math.min(o, c), c, 100] as const;
    }),
  );
}

/** |a - b| <= tol * max(1, |a|, |b|): relative for large values, absolute near zero. */
export function closeTo(a: number, b: number, tol = 1e-12): boolean {
  return Math.abs(a - b) <= tol * Math.max(1, Math.abs(a), Math.abs(b));
}

/**
 * Paths where `actual` and `expected` differ: numbers within `tol` (relative), everything else
 * exactly. Returns [] when they match. Used for golden files, whose numbers are compared with a
 * tolerance so an engine with a different last-bit libm (Math.pow in CAGR) still passes.
 */
export function diffWithTolerance(actual: unknown, expected: unknown, tol = 1e-12, path = '$'): string[] {
  if (typeof expected === 'number' && typeof actual === 'number') {
    return closeTo(actual, expected, tol) ? [] : [`${path}: expected ${expected}, got ${actual}`];
  }
  if (Array.isArray(expected)) {
    if (!Array.isArray(actual)) return [`${path}: expected an array`];
    if (actual.length !== expected.length) return [`${path}: expected length ${expected.length}, got ${actual.length}`];
    return expected.flatMap((e: unknown, i) => diffWithTolerance(actual[i], e, tol, `${path}[${i}]`));
  }
  if (expected !== null && typeof expected === 'object') {
    if (actual === null || typeof actual !== 'object') return [`${path}: expected an object`];
    const a = actual as Record<string, unknown>;
    const e = expected as Record<string, unknown>;
    const keys = new Set([...Object.keys(a), ...Object.keys(e)]);
    return [...keys].flatMap((k) => diffWithTolerance(a[k], e[k], tol, `${path}.${k}`));
  }
  return Object.is(actual, expected) ? [] : [`${path}: expected ${JSON.stringify(expected)}, got ${JSON.stringify(actual)}`];
}
