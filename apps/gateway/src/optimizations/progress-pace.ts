import type { RunStatus, RunView } from '@runforge/contracts';

/**
 * Whether a running optimization is still making progress — a pure function of its read model's
 * progress fields (folded from its events by `evolveRun`) and the clock (injected), so the rule is
 * tested without a database.
 *
 * The rule: a **Running** optimization is *stalled* when no trial outcome has arrived for longer
 * than `max(STALL_FLOOR_SECONDS, STALL_FACTOR × the longest wait between two arrivals so far)`,
 * the wait from the run's start to its first outcome included. It is measured against the run's
 * own pace, so a grid of legitimately long trials (one outcome a minute) is not flagged after a
 * fixed few seconds, while a grid that reported every half second is flagged after the floor.
 * - Before the first outcome there is no pace to compare with: never stalled (the run reports how
 *   long it has been running without one).
 * - A Pending run waits for a free worker (queued behind others, or for a retry): that is not a
 *   stall of the run, and it has no pace yet. Ended runs have none either.
 */
export const STALL_FLOOR_SECONDS = 15;
export const STALL_FACTOR = 3;

/** What the pace is judged from: the run's status and the progress fields of its row. */
export type PaceState = Readonly<Pick<RunView, 'startedAt' | 'lastProgressAt' | 'longestProgressGapMs'>> & {
  readonly status: RunStatus;
};

export interface ProgressPace {
  /** Seconds since the latest outcome, or since the run started when none has arrived yet. */
  secondsSinceProgress: number;
  /** No outcome for longer than `stallAfterSeconds`. */
  stalled: boolean;
  /** The silence after which this run counts as stalled (absent before the first outcome). */
  stallAfterSeconds?: number;
}

export function progressPace(run: PaceState, now: number): ProgressPace | undefined {
  if (run.status !== 'Running' || !run.startedAt) return undefined;
  const startedAt = Date.parse(run.startedAt);
  if (Number.isNaN(startedAt)) return undefined;
  if (run.lastProgressAt === null) {
    return { secondsSinceProgress: Math.max(0, Math.floor((now - startedAt) / 1000)), stalled: false };
  }
  const stallAfterSeconds = Math.max(STALL_FLOOR_SECONDS, Math.ceil((STALL_FACTOR * run.longestProgressGapMs) / 1000));
  // Worker and gateway clocks may differ a little: a negative wait counts as none.
  const sinceMs = Math.max(0, now - Date.parse(run.lastProgressAt));
  return {
    secondsSinceProgress: Math.floor(sinceMs / 1000),
    stalled: sinceMs > stallAfterSeconds * 1000,
    stallAfterSeconds,
  };
}
