import { z } from 'zod';
import { ContractError } from './envelope';
import { RESULT_LIMITS, TrialSummarySchema } from './events';
import { OptimizationRequestSchema } from './requests';

/**
 * A batch of optimization trials on the work-queue stream (`work.trials.<runId>`). Carries the
 * request so any worker can run it without another lookup, and the coordinator's attempt so the
 * trial events it produces are attributed to that attempt.
 */
export const TrialBatchSchema = z.object({
  type: z.literal('TrialBatch'),
  version: z.literal(1),
  runId: z.string().min(1).max(64),
  attempt: z.number().int().positive(),
  batchIndex: z.number().int().nonnegative(),
  request: OptimizationRequestSchema,
  trials: z
    .array(
      z.object({
        trialId: z.string(),
        index: z.number().int().nonnegative(),
        params: z.record(z.string(), z.union([z.number(), z.boolean(), z.string()])),
      }),
    )
    .min(1)
    .max(10_000),
});
export type TrialBatch = z.output<typeof TrialBatchSchema>;

export function decodeTrialBatch(raw: unknown): TrialBatch {
  const parsed = TrialBatchSchema.safeParse(raw);
  if (!parsed.success) {
    throw new ContractError('INVALID_TRIAL_BATCH', `invalid trial batch: ${z.prettifyError(parsed.error)}`, {
      cause: parsed.error,
    });
  }
  return parsed.data;
}

/**
 * What a worker tells the run's coordinator once a trial batch's outcomes are stored
 * (`ctl.runs.<runId>.trials_settled`, core NATS, not stored): which trials it recorded, and the
 * little of them the run's result needs — the batch's best `RESULT_LIMITS.top` completed trials and
 * the first failure of each kind. The coordinator counts these instead of following every
 * `TrialCompleted` / `TrialFailed` on the stream; a summary it misses (core NATS is at most once) is
 * made up by reading the run's stored outcomes (ADR 0011).
 */
export const TrialBatchSettledSchema = z.object({
  type: z.literal('TrialBatchSettled'),
  version: z.literal(1),
  runId: z.string().min(1).max(64),
  /** The attempt whose batch this was. */
  attempt: z.number().int().positive(),
  batchIndex: z.number().int().nonnegative(),
  /** Every trial whose outcome this delivery of the batch stored; `fingerprint` marks a failed one. */
  outcomes: z
    .array(
      z.object({
        trialId: z.string(),
        index: z.number().int().nonnegative(),
        fingerprint: z.string().optional(),
      }),
    )
    .max(10_000),
  /** The batch's best completed trials (score, then grid index), at most RESULT_LIMITS.top. */
  top: z.array(TrialSummarySchema).max(RESULT_LIMITS.top),
  /** Per kind of failure (fingerprint), the batch's first failed trial in the grid and its message. */
  failures: z
    .array(
      z.object({
        fingerprint: z.string(),
        message: z.string().max(RESULT_LIMITS.failureMessage),
        sampleTrialId: z.string(),
        sampleIndex: z.number().int().nonnegative(),
      }),
    )
    .max(10_000),
});
export type TrialBatchSettled = z.output<typeof TrialBatchSettledSchema>;

export function decodeTrialBatchSettled(raw: unknown): TrialBatchSettled {
  const parsed = TrialBatchSettledSchema.safeParse(raw);
  if (!parsed.success) {
    throw new ContractError(
      'INVALID_TRIAL_BATCH_SETTLED',
      `invalid trial batch summary: ${z.prettifyError(parsed.error)}`,
      { cause: parsed.error },
    );
  }
  return parsed.data;
}

/**
 * Hands a run to the engine workers (`work.runs.<priority>`). The run itself is its `RunRequested`
 * on `RUNS`; the dispatch only says "execute run X". It is published *before* the `RunRequested`,
 * so a crash in between leaves an orphan dispatch (dropped by the worker, and the client never got
 * its 202) rather than an accepted run nobody will execute. The delivery count of this message is
 * the run's attempt number.
 */
export const RunDispatchSchema = z.object({
  type: z.literal('RunDispatch'),
  version: z.literal(1),
  runId: z.string().min(1).max(64),
  kind: z.enum(['backtest', 'optimization', 'program', 'dmo', 'rmo', 'so']),
  priority: z.enum(['high', 'normal']),
  /**
   * The run's bars (a backtest's dataset window): with the kind, it tells a worker whether the run
   * is short (see `isShortRun`). Absent on dispatches written before it existed: such a run is
   * treated as long.
   */
  totalBars: z.number().int().nonnegative().optional(),
});
export type RunDispatch = z.output<typeof RunDispatchSchema>;

/**
 * Backtests of at most this many bars are short: a few milliseconds of engine time (the engine does
 * ~100 M bars/s), far less than the orchestration around them. A worker runs several short runs at
 * once and one long run alone (docs/architecture.md#worker-concurrency).
 */
export const SHORT_RUN_MAX_BARS = 250_000;

/** Whether a dispatched run is short: a backtest of a known size up to `maxBars`. Everything else is long. */
export function isShortRun(d: RunDispatch, maxBars = SHORT_RUN_MAX_BARS): boolean {
  return d.kind === 'backtest' && d.totalBars !== undefined && d.totalBars <= maxBars;
}

export function decodeRunDispatch(raw: unknown): RunDispatch {
  const parsed = RunDispatchSchema.safeParse(raw);
  if (!parsed.success) {
    throw new ContractError('INVALID_RUN_DISPATCH', `invalid run dispatch: ${z.prettifyError(parsed.error)}`, {
      cause: parsed.error,
    });
  }
  return parsed.data;
}
