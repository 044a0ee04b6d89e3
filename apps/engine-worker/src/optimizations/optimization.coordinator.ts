import { Injectable, Logger } from '@nestjs/common';
import {
  clipText,
  decodeEvent,
  isRunEnd,
  RESULT_LIMITS,
  trialId,
  trialOutcomesOf,
  type OptimizationRequest,
  type OptimizationResultPayload,
  type RunEvent,
  type TrialBatch,
  type TrialSummary,
} from '@runforge/contracts';
import { enumerateGrid, planGrid, EngineError } from '@runforge/engine';
import { JetStreamClient, StreamReader } from '@runforge/messaging';
import type { RunContext } from '../runs/run-context';
import { RunSignals, stopReasonOf } from '../runs/run-signals.service';

/** How long a run's end waits for its trial batches to be run or dropped (3 ack waits of the trials consumer). */
const BATCHES_SETTLE_MS = 15_000;
/** A batch holds at most this much work (bar-steps: trials × bars; ~0.4 s at engine speed). */
const MAX_BATCH_WORK = 100_000_000;
/** ...and, while the grid allows, at least this much (~20 ms), so per-batch costs stay small. */
const MIN_BATCH_WORK = 5_000_000;
/** ...and at most this many trials, so a batch message stays far below NATS' 1 MB payload limit. */
const MAX_BATCH_TRIALS = 1_000;
/** No batch holds more than this share (1/n) of the grid, so every worker gets a share of a small one. */
const MIN_BATCHES = 8;
/** Each batch takes at most this share of the trials still unplanned (guided self-scheduling). */
const GUIDED_SHARE = 1 / 4;

/**
 * Batch sizes for `trials` trials over `totalBars` bars, in queue order: large batches first (few
 * messages, pulls and outcome events per trial), shrinking as the grid runs out (each at most a
 * quarter of what is left), so the last batches are small and the workers finish together instead
 * of one waiting on another's big last batch. Sizes are bounded by MIN/MAX_BATCH_WORK,
 * MAX_BATCH_TRIALS and an eighth of the grid (MIN_BATCHES).
 */
export function planBatchSizes(totalBars: number, trials: number): number[] {
  const bars = Math.max(1, totalBars);
  const max = Math.max(
    1,
    Math.min(MAX_BATCH_TRIALS, Math.floor(MAX_BATCH_WORK / bars), Math.ceil(trials / MIN_BATCHES)),
  );
  const min = Math.max(1, Math.min(Math.floor(MIN_BATCH_WORK / bars), max));
  const sizes: number[] = [];
  for (let left = trials; left > 0;) {
    const size = Math.min(left, max, Math.max(min, Math.ceil(left * GUIDED_SHARE)));
    sizes.push(size);
    left -= size;
  }
  return sizes;
}

interface FailureGroup {
  fingerprint: string;
  message: string;
  count: number;
  sampleTrialId: string;
  /** Grid index of the sample: the group's first trial in the grid (also the tie-break). */
  sampleIndex: number;
}

/** The coordinator's view of a run, folded from the run's own trial events. */
export class OptimizationTally {
  readonly done = new Set<string>();
  completed = 0;
  failed = 0;
  top: TrialSummary[] = [];
  readonly failures = new Map<string, FailureGroup>();

  apply(event: RunEvent): void {
    for (const o of trialOutcomesOf(event)) {
      if (this.done.has(o.trialId)) continue;
      this.done.add(o.trialId);
      if (o.status === 'Completed') {
        this.completed++;
        this.top.push({ trialId: o.trialId, index: o.index, params: o.params, metrics: o.metrics, score: o.score });
        this.top.sort((a, b) => b.score - a.score || a.index - b.index);
        if (this.top.length > RESULT_LIMITS.top) this.top.length = RESULT_LIMITS.top;
      } else {
        this.failed++;
        const g = this.failures.get(o.fingerprint);
        const sample = {
          message: clipText(o.errorMessage, RESULT_LIMITS.failureMessage),
          sampleTrialId: o.trialId,
          sampleIndex: o.index,
        };
        if (!g) this.failures.set(o.fingerprint, { fingerprint: o.fingerprint, count: 1, ...sample });
        else {
          g.count++;
          // The sample is the group's first trial in the grid, whatever order outcomes arrive in
          // (the status endpoint picks the same one from the trials table).
          if (o.index < g.sampleIndex) Object.assign(g, sample);
        }
      }
    }
  }

  /** Largest group first; ties by the group's first trial in the grid. */
  failureGroups(): Omit<FailureGroup, 'sampleIndex'>[] {
    return [...this.failures.values()]
      .sort((a, b) => b.count - a.count || a.sampleIndex - b.sampleIndex)
      .slice(0, RESULT_LIMITS.failureGroups)
      .map(({ sampleIndex: _i, ...group }) => group);
  }

  result(objective: OptimizationRequest['objective']): OptimizationResultPayload {
    return { objective, best: this.top[0] ?? null, top: this.top, failures: this.failureGroups() };
  }
}

export type CoordinationOutcome =
  | { kind: 'completed' }
  | { kind: 'failed'; message: string; reason: 'failed_trials' | 'all_trials_failed' }
  | { kind: 'stopped' }
  /** The run's history ended under the coordinator without any stop (its consumer was lost). */
  | { kind: 'lost' };

/** How long the coordinator waits for more of the run's stored history before it counts as caught up. */
const CATCH_UP_IDLE_MS = 250;

/** How a grid whose every trial has an outcome ends. */
function completionOf(tally: OptimizationTally, total: number): CoordinationOutcome {
  const top = tally.failureGroups()[0];
  return tally.completed === 0
    ? {
        kind: 'failed',
        reason: 'all_trials_failed',
        message: `all ${total} trials failed; most common: "${top?.message ?? 'unknown'}" (${top?.count ?? 0})`,
      }
    : { kind: 'completed' };
}

/**
 * Coordinates one optimization run: enumerates the grid, fans the trials out in batches on the
 * work-queue stream (every worker takes a share), and follows the run's own events until every
 * trial has an outcome. Its state is rebuilt from those events, so a coordinator that takes over
 * after a crash schedules only the trials without a recorded outcome yet.
 */
@Injectable()
export class OptimizationCoordinator {
  private readonly log = new Logger(OptimizationCoordinator.name);

  constructor(
    private readonly client: JetStreamClient,
    private readonly reader: StreamReader,
    private readonly signals: RunSignals,
  ) {}

  /**
   * Resolves once no batch of the run is left on the work queue — each was run (its outcomes and log
   * lines stored before its ack) or dropped unrun after a stop — so the run's end, written next, is
   * the last event of its history. Bounded: a batch held by a frozen worker comes back after the ack
   * wait and is dropped by the next taker; past BATCHES_SETTLE_MS the end is written anyway (such a
   * worker may still append outcomes after it, which the fold ignores: docs/events.md).
   */
  async whenBatchesSettled(runId: string): Promise<void> {
    const t = this.client.topology;
    const subject = t.trialWorkSubject(runId);
    const deadline = performance.now() + BATCHES_SETTLE_MS;
    while (performance.now() < deadline) {
      const info = await this.reader.jsm.streams.info(t.streams.work.name, { subjects_filter: subject });
      if ((info.state.subjects?.[subject] ?? 0) === 0) return;
      await new Promise((r) => setTimeout(r, 25));
    }
    this.log.warn({ runId }, `trial batches still queued after ${BATCHES_SETTLE_MS} ms; recording the run's end`);
  }

  async coordinate(
    ctx: RunContext,
    request: OptimizationRequest,
    totalBars: number,
    signal: AbortSignal,
  ): Promise<{ outcome: CoordinationOutcome; tally: OptimizationTally; total: number }> {
    const planned = planGrid(request.strategy, request.axes, request.params, request.constraints);
    if (!planned.ok) {
      throw new EngineError(
        'INVALID_GRID',
        `grid no longer valid: ${planned.issues.map((i) => `${i.field}: ${i.reason}`).join('; ')}`,
      );
    }
    const grid = enumerateGrid(planned.plan).map((params, index) => ({
      index,
      params,
      trialId: trialId(ctx.runId, params),
    }));
    const total = grid.length;
    const tally = new OptimizationTally();
    // Follow the run's whole history: first what earlier attempts produced, then live.
    const { messages, close } = await this.reader.follow(ctx.runId);
    const onAbort = (): void => messages.stop();
    signal.addEventListener('abort', onAbort, { once: true });
    if (signal.aborted) onAbort(); // stopped (a shutdown, say) before the listener was there
    let scheduled = false;
    const schedule = async (): Promise<void> => {
      scheduled = true;
      const remaining = grid.filter((g) => !tally.done.has(g.trialId));
      // Batches of an earlier attempt may still wait in the queue: they are not purged (see
      // docs/architecture.md, "Discarding queued trial batches") but dropped unrun by whichever
      // worker takes them, since this attempt superseded theirs (RunSignals, isStale).
      const sizes = planBatchSizes(totalBars, remaining.length);
      // All batches go out before any ack is awaited: this worker also runs trials, and awaiting each
      // publish would let its own first batch delay the rest (and so the other workers' start).
      const publishes: Promise<unknown>[] = [];
      let i = 0;
      for (const [batchIndex, size] of sizes.entries()) {
        const batch: TrialBatch = {
          type: 'TrialBatch',
          version: 1,
          runId: ctx.runId,
          attempt: ctx.attempt,
          batchIndex,
          request,
          trials: remaining
            .slice(i, i + size)
            .map((g) => ({ trialId: g.trialId, index: g.index, params: { ...g.params } })),
        };
        i += size;
        publishes.push(this.client.publishTrialBatch(batch, { traceparent: ctx.traceparent }));
      }
      await Promise.all(publishes);
      await ctx.log('INFO', `scheduled ${remaining.length} of ${total} trials in ${sizes.length} batches`, {
        alreadyDone: tally.done.size,
        largestBatch: sizes[0],
        smallestBatch: sizes[sizes.length - 1],
      });
    };

    const failLimit =
      request.maxFailedTrials === undefined
        ? undefined
        : request.maxFailedTrials < 1
          ? Math.max(1, Math.ceil(request.maxFailedTrials * total))
          : Math.floor(request.maxFailedTrials);
    let outcome: CoordinationOutcome = { kind: 'stopped' };
    try {
      if (total === 0) {
        outcome = { kind: 'completed' }; // `finally` reads it: nothing to stop
        return { outcome, tally, total };
      }
      // Catch up on what is already stored before scheduling, so a takeover skips finished trials:
      // caught up when the consumer says nothing is pending, or when nothing arrived for
      // CATCH_UP_IDLE_MS (a time bound: NATS 2.9 can report a wrong pending count for a filtered
      // consumer, and the coordinator must not wait on it).
      let caughtUp = false;
      const catchUp = (): void => {
        clearTimeout(idle);
        if (caughtUp) return;
        caughtUp = true;
        if (tally.done.size < total) void schedule().catch((err: unknown) => messages.stop(err as Error));
        else messages.stop(); // everything already has an outcome: the loop ends and decides below
      };
      const idle = setTimeout(catchUp, CATCH_UP_IDLE_MS);
      for await (const m of messages) {
        if (!caughtUp) idle.refresh();
        let event: RunEvent | undefined;
        try {
          event = decodeEvent(m.json());
        } catch {
          event = undefined;
        }
        if (event && event.attempt > ctx.attempt && (event.type === 'RunStarted' || isRunEnd(event))) {
          // A newer attempt took the run over (this one lost its lease, e.g. in a NATS outage), or
          // ended it (the retries ran out meanwhile): this one stops without recording anything.
          this.signals.abort(ctx.runId, { kind: 'superseded', byAttempt: event.attempt }, ctx.attempt);
          break;
        }
        if (event?.type === 'RunCancellationRequested') {
          // The stored request, not only its push (core NATS, at most once): a push lost in a
          // reconnect, or sent while no coordinator was alive, still stops the run here.
          this.signals.abort(ctx.runId, { kind: 'cancelled' });
          break;
        }
        if (event) {
          const before = tally.done.size;
          tally.apply(event);
          if (tally.done.size > before) ctx.touch();
        }
        if (!caughtUp && m.info.pending === 0) {
          clearTimeout(idle);
          caughtUp = true;
          if (tally.done.size < total) await schedule();
        }
        if (failLimit !== undefined && tally.failed >= failLimit) {
          // Trials that finish before the stop reaches their worker (other workers, and this one,
          // which runs its own batch between the coordinator's turns) are still recorded before
          // RunFailed, so the run's final failedCombinations can exceed the count here.
          const message = `stopped early: ${tally.failed} trial${tally.failed === 1 ? '' : 's'} had failed; the limit is ${failLimit} (maxFailedTrials ${request.maxFailedTrials} of ${total} combinations)`;
          this.signals.broadcastStop(ctx.runId, ctx.attempt, message);
          outcome = { kind: 'failed', message, reason: 'failed_trials' };
          break;
        }
        if (caughtUp && tally.done.size >= total) {
          outcome = completionOf(tally, total);
          break;
        }
      }
      clearTimeout(idle);
      if (outcome.kind === 'stopped' && !signal.aborted && caughtUp && tally.done.size >= total)
        outcome = completionOf(tally, total); // every trial had an outcome before this attempt began
      // Decided here, before `finally` broadcasts a stop this process hears too (which would make
      // the loss look like a stop).
      if (outcome.kind === 'stopped' && !signal.aborted) {
        this.log.warn({ runId: ctx.runId, scheduled }, 'the run history ended under the coordinator');
        outcome = { kind: 'lost' };
      }
      return { outcome, tally, total };
    } finally {
      signal.removeEventListener('abort', onAbort);
      await close();
      const stop = stopReasonOf(signal);
      if (outcome.kind === 'stopped' && stop?.kind !== 'shutdown' && stop?.kind !== 'superseded') {
        // Stopped (timeout, stall) or cancelled: in-flight trials stop on every worker, and queued
        // batches are dropped unrun by whoever takes them (the stop is remembered per attempt).
        // Cancellation is broadcast too: its own push may be the one that was lost. On shutdown, or
        // a lost history, the run is handed back instead: the next coordinator reuses what
        // finishes and supersedes the queued batches. (A maxFailedTrials stop was broadcast above.)
        this.signals.broadcastStop(
          ctx.runId,
          ctx.attempt,
          stop?.kind === 'cancelled' ? 'run cancelled' : 'run stopped',
        );
      }
    }
  }
}
