import { Cron } from 'croner';
import { v5 as uuidv5 } from 'uuid';

/**
 * The scheduler's pure core: which fires of a cadence are due, which were missed, and the ids a
 * fire derives (the calendar windows of `maxRunsPerWindow` are in `@runforge/calendar`). No clock,
 * no I/O: the caller passes `now`, so tests drive it across DST changes and outages without waiting.
 *
 * DST follows croner (≥ 10): a fixed-time job (`0 10 * * *`, `30 2 * * *`) whose local time falls
 * in the spring-forward gap runs at the first valid instant after the gap, and runs once when the
 * local time occurs twice in autumn; interval jobs (`*\/30 * * * *`) skip the non-existent local
 * times and run on both occurrences of a repeated hour (they are every-N-minutes in real time).
 */

export interface Cadence {
  readonly cron: string;
  readonly timezone: string;
  /** After downtime, the newest missed fire younger than this still runs (once). */
  readonly catchupWindowSeconds: number;
}

/**
 * A fire is still acted on when the tick that sees it is at most this late, even without a
 * catch-up window: it absorbs a slow tick, a GC pause or a quick restart of the scheduler.
 */
export const FIRE_LATENESS_TOLERANCE_MS = 60_000;

/** At most this many missed fires are recorded one by one per evaluation (older ones are counted). */
export const MAX_MISSED_RECORDS = 50;

const MAX_ENUMERATED = 100_000;

const cronCache = new Map<string, Cron>();

function compile(cron: string, timezone: string): Cron {
  const key = `${timezone}\u0000${cron}`;
  let c = cronCache.get(key);
  if (!c) {
    c = new Cron(cron, { timezone, mode: '5-or-6-parts', paused: true });
    if (cronCache.size > 1_000) cronCache.clear();
    cronCache.set(key, c);
  }
  return c;
}

/** A reason the cron expression is invalid, or undefined. */
export function cronProblem(cron: string): string | undefined {
  try {
    const c = new Cron(cron, { mode: '5-or-6-parts', paused: true, timezone: 'UTC' });
    if (c.nextRun(new Date(0)) === null) return 'the expression never fires';
    return undefined;
  } catch (err) {
    return (err instanceof Error ? err.message : String(err)).replace(/^CronPattern: /, '');
  }
}

/** A reason the IANA time zone is unknown, or undefined. */
export function timezoneProblem(timezone: string): string | undefined {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: timezone });
    if (!/^[A-Za-z0-9_+\-/]+$/.test(timezone)) return `unknown IANA time zone "${timezone}"`;
    return undefined;
  } catch {
    return `unknown IANA time zone "${timezone}"`;
  }
}

/** The next `n` fire instants strictly after `after`. */
export function nextFireTimes(cadence: Pick<Cadence, 'cron' | 'timezone'>, after: Date, n: number): Date[] {
  const c = compile(cadence.cron, cadence.timezone);
  const out: Date[] = [];
  let prev: Date = after;
  while (out.length < n) {
    const next = c.nextRun(prev);
    if (!next) break;
    out.push(next);
    prev = next;
  }
  return out;
}

export type PlannedFire =
  | { readonly fireTime: Date; readonly action: 'start' }
  | { readonly fireTime: Date; readonly action: 'missed'; readonly reason: string };

export interface FirePlan {
  /** In fire-time order; at most one `start`, always the newest fire. */
  readonly fires: readonly PlannedFire[];
  /** The newest fire instant considered (advance the schedule's cursor to it), or undefined. */
  readonly evaluatedUntil: Date | undefined;
}

/**
 * Fires of `cadence` in `(after, now]`. The newest one runs when it is at most
 * `max(catchupWindowSeconds, FIRE_LATENESS_TOLERANCE_MS)` old; every other fire in the range is
 * `missed` with the reason — a catch-up runs at most once, whatever the length of the outage.
 */
export function planFires(cadence: Cadence, after: Date, now: Date): FirePlan {
  if (now.getTime() <= after.getTime()) return { fires: [], evaluatedUntil: undefined };
  const c = compile(cadence.cron, cadence.timezone);
  const windowMs = Math.max(cadence.catchupWindowSeconds * 1000, FIRE_LATENESS_TOLERANCE_MS);
  const oldestEligible = now.getTime() - windowMs;

  const times: Date[] = [];
  let olderNotKept = 0;
  const keep = (t: Date): void => {
    times.push(t);
    if (times.length > MAX_MISSED_RECORDS + 1) {
      times.shift();
      olderNotKept += 1;
    }
  };
  let prev: Date = after;
  let enumerated = 0;
  for (;;) {
    if (enumerated === MAX_ENUMERATED) {
      // A very long outage of a fast cadence: jump to just before the eligible window.
      const jump = Math.max(prev.getTime(), oldestEligible - 1);
      if (jump > prev.getTime()) {
        olderNotKept += 1; // at least one fire was skipped uncounted; the reason says "earlier"
        prev = new Date(jump);
      }
    }
    const next = c.nextRun(prev);
    if (!next || next.getTime() > now.getTime()) break;
    keep(next);
    prev = next;
    enumerated += 1;
  }
  if (times.length === 0) return { fires: [], evaluatedUntil: undefined };

  const newest = times[times.length - 1] as Date;
  const newestEligible = newest.getTime() >= oldestEligible;
  const windowText =
    cadence.catchupWindowSeconds > 0
      ? `the catch-up window (${cadence.catchupWindowSeconds} s)`
      : `the ${FIRE_LATENESS_TOLERANCE_MS / 1000} s lateness tolerance (no catch-up window)`;
  const fires: PlannedFire[] = times.map((fireTime, i) => {
    const isNewest = i === times.length - 1;
    if (isNewest && newestEligible) return { fireTime, action: 'start' as const };
    if (fireTime.getTime() >= oldestEligible) {
      return {
        fireTime,
        action: 'missed' as const,
        reason: `not run: a later fire (${newest.toISOString()}) was also due, and a catch-up runs at most once`,
      };
    }
    const earlier = i === 0 && olderNotKept > 0 ? ` (${olderNotKept} earlier missed fires are not listed)` : '';
    return {
      fireTime,
      action: 'missed' as const,
      reason: `the scheduler was not running at the fire time, and by ${now.toISOString()} the fire was older than ${windowText}${earlier}`,
    };
  });
  return { fires, evaluatedUntil: newest };
}

// ---------------------------------------------------------------------------------------------
// Deterministic identities: every replica derives the same run and message for the same fire.

const SCHEDULE_RUN_NAMESPACE = '6f1c3a52-4d0e-5b8a-9c21-7e5d2b4f8a10';

/** The run id of a schedule's fire: the same on every replica (UUIDv5 of schedule + fire time). */
export function scheduledRunId(scheduleId: string, fireTime: Date): string {
  return uuidv5(`${scheduleId}@${fireTime.toISOString()}`, SCHEDULE_RUN_NAMESPACE);
}

/** The `Nats-Msg-Id` of a fire's `RunRequested`: JetStream drops a second replica's publish. */
export function scheduledMessageId(scheduleId: string, fireTime: Date): string {
  return `schedule:${scheduleId}:${fireTime.toISOString()}`;
}
