import { z } from 'zod';
import { ContractError } from './envelope';
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
