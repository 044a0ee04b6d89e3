/**
 * Calendar windows in a time zone: the periods that bound `maxRunsPerWindow` (a schedule's limit,
 * a job kind's run-window claims). Its own lib because both the scheduler and the submission path
 * use it, and the scheduler already depends on submission. No clock, no I/O: the caller passes
 * the instant.
 */

export const RUN_WINDOWS = ['1d'] as const;
export type RunWindow = (typeof RUN_WINDOWS)[number];

const dayFormatters = new Map<string, Intl.DateTimeFormat>();

function localDayKey(t: number, timezone: string): number {
  let f = dayFormatters.get(timezone);
  if (!f) {
    f = new Intl.DateTimeFormat('en-US', { timeZone: timezone, year: 'numeric', month: 'numeric', day: 'numeric' });
    dayFormatters.set(timezone, f);
  }
  let y = 0;
  let m = 0;
  let d = 0;
  for (const p of f.formatToParts(t)) {
    if (p.type === 'year') y = Number(p.value);
    else if (p.type === 'month') m = Number(p.value);
    else if (p.type === 'day') d = Number(p.value);
  }
  return y * 10_000 + m * 100 + d;
}

/** The first instant whose local calendar day is `dayKey` or later, searched in [lo, hi]. */
function firstInstantOfDay(dayKey: number, lo: number, hi: number, timezone: string): number {
  while (hi - lo > 1) {
    const mid = Math.floor((lo + hi) / 2);
    if (localDayKey(mid, timezone) >= dayKey) hi = mid;
    else lo = mid;
  }
  return hi;
}

/**
 * The calendar window (`1d` = the local day in `timezone`, 23 or 25 hours long across DST) that
 * contains `t`: `[start, end)`.
 */
export function windowBounds(t: Date, timezone: string, window: RunWindow): { start: Date; end: Date } {
  switch (window) {
    case '1d': {
      const ms = t.getTime();
      const today = localDayKey(ms, timezone);
      const H = 3_600_000;
      // Local days are 23–25 h long and UTC offsets are within ±14 h: both boundaries lie within 30 h.
      const start = firstInstantOfDay(today, ms - 30 * H, ms, timezone);
      const end = firstInstantOfDay(nextDayKey(ms, timezone), ms, ms + 30 * H, timezone);
      return { start: new Date(start), end: new Date(end) };
    }
    default: {
      const never: never = window;
      throw new Error(`unknown window ${String(never)}`);
    }
  }
}

/** The day key of the local day after the one containing `ms`. */
function nextDayKey(ms: number, timezone: string): number {
  const today = localDayKey(ms, timezone);
  for (let h = 1; h <= 30; h += 1) {
    const k = localDayKey(ms + h * 3_600_000, timezone);
    if (k > today) return k;
  }
  return today + 1;
}

/** The local calendar date (`yyyy-mm-dd`) of `t` in `timezone`. */
export function localDate(t: Date, timezone: string): string {
  const key = localDayKey(t.getTime(), timezone);
  const pad = (n: number, width: number): string => String(n).padStart(width, '0');
  return `${pad(Math.floor(key / 10_000), 4)}-${pad(Math.floor(key / 100) % 100, 2)}-${pad(key % 100, 2)}`;
}
