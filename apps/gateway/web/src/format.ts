import { formatDuration } from '@runforge/client';
/** Pure helpers: formatting and the optimization grid arithmetic the form shows live. */

export function fmtInt(n: number | null | undefined): string {
  return n === null || n === undefined || !Number.isFinite(n) ? '–' : Math.round(n).toLocaleString('en-US');
}

export function fmtNum(n: unknown, digits = 4): string {
  if (typeof n !== 'number' || !Number.isFinite(n)) return typeof n === 'string' ? n : '–';
  if (Number.isInteger(n)) return n.toLocaleString('en-US');
  return n.toLocaleString('en-US', { maximumFractionDigits: digits });
}

export function fmtTime(iso: string | null | undefined): string {
  if (!iso) return '–';
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? iso : d.toLocaleString();
}

/** A time in a named IANA zone, with the zone's short name ("25/11/2026, 10:00:00 CET"); the local time if the zone is unknown. */
export function fmtTimeIn(iso: string | null | undefined, timeZone: string): string {
  if (!iso) return '–';
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return iso;
  try {
    return d.toLocaleString(undefined, { timeZone, timeZoneName: 'short' });
  } catch {
    return d.toLocaleString(undefined, { timeZoneName: 'short' });
  }
}

export function fmtDuration(
  fromIso: string | null | undefined,
  toIso: string | null | undefined,
  now = Date.now(),
): string {
  if (!fromIso) return '–';
  const from = Date.parse(fromIso);
  const to = toIso ? Date.parse(toIso) : now;
  if (Number.isNaN(from) || Number.isNaN(to)) return '–';
  return fmtMillis(Math.max(0, to - from));
}

/** A duration in milliseconds (the client's formatter, shared with the CLI). */
export const fmtMillis = formatDuration;

/** A number of seconds as a short duration: "45 s", "3 min 20 s", "2 h 5 min". */
export function fmtSeconds(seconds: number | null | undefined): string {
  if (seconds === null || seconds === undefined || !Number.isFinite(seconds) || seconds < 0) return '–';
  const s = Math.round(seconds);
  if (s < 60) return `${s} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m} min ${s % 60} s`;
  return `${Math.floor(m / 60)} h ${m % 60} min`;
}

/** Ids are time-ordered (UUIDv7): the tail tells neighbours apart, where the head does not. */
export { shortId } from '@runforge/client';

/** An optimization axis as typed in the form: a list of values, or a numeric range. */
export type AxisInput = { mode: 'values'; text: string } | { mode: 'range'; min: string; max: string; step: string };

export type AxisValue = (number | string | boolean)[] | { min: number; max: number; step: number };

/** Parses one axis; answers the API value and its number of points, or an error to show. */
export function parseAxis(input: AxisInput, type: string): { value: AxisValue; count: number } | { error: string } {
  if (input.mode === 'values') {
    const parts = input.text
      .split(',')
      .map((s) => s.trim())
      .filter((s) => s !== '');
    if (parts.length === 0) return { error: 'enter at least one value' };
    if (type === 'integer' || type === 'number') {
      const nums = parts.map(Number);
      const bad = parts.find((_, i) => !Number.isFinite(nums[i]) || (type === 'integer' && !Number.isInteger(nums[i])));
      if (bad !== undefined) return { error: `"${bad}" is not ${type === 'integer' ? 'an integer' : 'a number'}` };
      return { value: nums, count: new Set(nums).size };
    }
    if (type === 'boolean') {
      const bools = parts.map((p) => p.toLowerCase());
      if (bools.some((b) => b !== 'true' && b !== 'false')) return { error: 'use true or false' };
      return { value: bools.map((b) => b === 'true'), count: new Set(bools).size };
    }
    return { value: parts, count: new Set(parts).size };
  }
  const min = Number(input.min);
  const max = Number(input.max);
  const step = Number(input.step);
  if (![min, max, step].every(Number.isFinite) || input.min === '' || input.max === '' || input.step === '') {
    return { error: 'min, max and step must be numbers' };
  }
  if (step <= 0) return { error: 'step must be positive' };
  if (max < min) return { error: 'max must be at least min' };
  // A small tolerance keeps 0.1-steps from losing their last point to rounding.
  const count = Math.floor((max - min) / step + 1e-9) + 1;
  return { value: { min, max, step }, count };
}

/** Combinations of the grid before constraints: the product of the axes' sizes. */
export function combinationCount(counts: readonly number[]): number {
  return counts.reduce((a, b) => a * b, 1);
}

/**
 * What a `maxFailedTrials` typed in the form means, in words: a whole number is a count of failed
 * trials, a value between 0 and 1 a share of the grid. Anything else is left to the API to refuse
 * (its 400 names the field and the rule).
 */
export function describeMaxFailedTrials(raw: string): string | undefined {
  if (raw.trim() === '') return undefined;
  const n = Number(raw);
  if (!Number.isFinite(n) || n <= 0) return undefined;
  if (n < 1) {
    const pct = Number((n * 100).toPrecision(6));
    return `stops the run as Failed once ${pct}% of its combinations have failed (at least 1 trial)`;
  }
  if (Number.isInteger(n))
    return `stops the run as Failed once ${fmtInt(n)} trial${n === 1 ? ' has' : 's have'} failed`;
  return undefined;
}

/**
 * A dataset window bound as typed: empty is no bound, digits are epoch milliseconds, anything else
 * is sent as written (the API takes ISO-8601 with a zone and says so when it is not).
 */
export function windowBound(raw: string): string | number | undefined {
  const v = raw.trim();
  if (v === '') return undefined;
  return /^\d+$/.test(v) ? Number(v) : v;
}

/** The issues of a 400 about one field of the request or anything below it (`dataset` → `dataset.from`). */
export function issuesAt<T extends { field: string }>(issues: readonly T[], field: string): T[] {
  return issues.filter((i) => i.field === field || i.field.startsWith(`${field}.`));
}
