import { parseTimestamp, type FieldIssue } from '@runforge/engine';
import { EnergyInputError } from './errors';
import { MAX_INTERVALS, parsePriceSeries, type PriceSeries } from './schemas';

const MINUTE_MS = 60_000;

function instant(field: string, iso: string): number {
  const ms = parseTimestamp(iso);
  if (ms === undefined) throw new EnergyInputError([{ field, reason: `must be an ISO-8601 instant, got "${iso}"` }]);
  return ms;
}

function isoAt(ms: number): string {
  return new Date(ms).toISOString();
}

/**
 * The interval starts in `[from, from + intervals·Δ)` that `series` has no value for; empty when it
 * covers the horizon. A `from` off the series' interval grid matches none of its intervals.
 */
export function coverage(series: PriceSeries, from: string, intervals: number): string[] {
  const stepMs = series.intervalMinutes * MINUTE_MS;
  const startMs = instant('series.start', series.start);
  const fromMs = instant('from', from);
  const missing: string[] = [];
  for (let i = 0; i < intervals; i++) {
    const atMs = fromMs + i * stepMs;
    const index = (atMs - startMs) / stepMs;
    if (!Number.isInteger(index) || index < 0 || index >= series.dayAhead.length) missing.push(isoAt(atMs));
  }
  return missing;
}

/** `96 intervals missing: 2026-01-02T00:00:00.000Z to 2026-01-02T23:45:00.000Z` (up to three runs named). */
export function describeMissing(missing: readonly string[], intervalMinutes: number): string {
  const runs: Array<[string, string]> = [];
  let previous = NaN;
  for (const iso of missing) {
    const ms = Date.parse(iso);
    const last = runs[runs.length - 1];
    if (last !== undefined && ms - previous === intervalMinutes * MINUTE_MS) last[1] = iso;
    else runs.push([iso, iso]);
    previous = ms;
  }
  const named = runs.slice(0, 3).map(([a, b]) => (a === b ? a : `${a} to ${b}`));
  const more = runs.length > 3 ? ` and ${runs.length - 3} more run(s)` : '';
  return `${missing.length} interval${missing.length === 1 ? '' : 's'} missing: ${named.join(', ')}${more}`;
}

export interface Horizon {
  /** Index of the horizon's first interval in the series. */
  offset: number;
  intervals: number;
  intervalHours: number;
  /** ISO instant of the first interval. */
  start: string;
}

/**
 * Validates the series and resolves `[from, from + intervals)` against it. `intervals` defaults to
 * the rest of the series. A horizon the series does not cover is an input error naming the gaps.
 */
export function resolveHorizon(
  seriesInput: PriceSeries,
  from: string | undefined,
  intervals: number | undefined,
): { series: PriceSeries; horizon: Horizon } {
  const parsed = parsePriceSeries(seriesInput);
  if (!parsed.ok) throw new EnergyInputError(parsed.issues);
  const series = parsed.value;
  const stepMs = series.intervalMinutes * MINUTE_MS;
  const startMs = instant('series.start', series.start);
  const fromMs = from === undefined ? startMs : instant('from', from);
  const issues: FieldIssue[] = [];
  const count = intervals ?? Math.max(0, series.dayAhead.length - Math.round((fromMs - startMs) / stepMs));
  if (!Number.isInteger(count) || count < 1 || count > MAX_INTERVALS) {
    issues.push({ field: 'intervals', reason: `must be an integer between 1 and ${MAX_INTERVALS}, got ${count}` });
  } else {
    const missing = coverage(series, isoAt(fromMs), count);
    if (missing.length > 0) {
      issues.push({
        field: 'series',
        reason: `does not cover the horizon: ${describeMissing(missing, series.intervalMinutes)}`,
      });
    }
  }
  if (issues.length > 0) throw new EnergyInputError(issues);
  return {
    series,
    horizon: {
      offset: (fromMs - startMs) / stepMs,
      intervals: count,
      intervalHours: series.intervalMinutes / 60,
      start: isoAt(fromMs),
    },
  };
}

export function sliceHorizon<T>(values: readonly T[], horizon: Horizon): T[] {
  return values.slice(horizon.offset, horizon.offset + horizon.intervals);
}
