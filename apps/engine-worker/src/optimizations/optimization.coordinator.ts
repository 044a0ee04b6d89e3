import { Injectable, Logger } from '@nestjs/common';
import {
  decodeTrialBatchSettled,
  isRunEnd,
  RUN_END_TYPES,
  trialId,
  type OptimizationRequest,
  type RunEvent,
  type TrialBatch,
} from '@runforge/contracts';
import { enumerateGrid, planGrid, EngineError } from '@runforge/engine';
import { JetStreamClient, StreamReader } from '@runforge/messaging';
import type { RunContext } from '../runs/run-context';
import { RunSignals, stopReasonOf } from '../runs/run-signals.service';
import { testFaults } from '../runs/test-faults';
import { OptimizationTally } from './trial-tally';

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

export type CoordinationOutcome =
  | { kind: 'completed' }
  | { kind: 'failed'; message: string; reason: 'failed_trials' | 'all_trials_failed' }
  | { kind: 'stopped' }
  /** The run's history ended under the coordinator without any stop (its consumer was lost). */
  | { kind: 'lost' };

/** How often the coordinator asks the stream what summaries cannot tell: a stored cancellation, a newer attempt. */
const CONTROL_CHECK_MS = 500;
/**
 * With outcomes missing, no summary heard for this long and no batch of the run left on the queue,
 * the coordinator reads the run's stored outcomes: a summary was lost (core NATS, at most once), or a
 * batch's worker died after storing outcomes and before telling.
 */
const MAKE_UP_AFTER_MS = 1_000;
/**
 * A make-up read that found nothing new means outcomes are missing for good (a batch dead-lettered,
 * say): the next one waits twice as long, up to this, instead of reading the whole history every
 * second until the run's timeout or stall limit ends it.
 */
const MAKE_UP_MAX_INTERVAL_MS = 30_000;

/** What the run's stored history says about this attempt going on. */
type Verdict = { kind: 'cancelled' } | { kind: 'superseded'; byAttempt: number };

/** A stored event that stops this attempt: a newer attempt took the run over or ended it, or a cancellation. */
function verdictOf(event: RunEvent, attempt: number): Verdict | undefined {
  if (event.attempt > attempt && (event.type === 'RunStarted' || isRunEnd(event)))
    return { kind: 'superseded', byAttempt: event.attempt };
  if (event.type === 'RunCancellationRequested') return { kind: 'cancelled' };
  return undefined;
}

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
 * Coordinates one optimization run: enumerates the grid, reads what the run's history already
 * records (so a coordinator that takes over after a crash schedules only the trials without an
 * outcome), fans the rest out in batches on the work-queue stream (every worker takes a share), and
 * counts the workers' batch summaries until every trial has an outcome (ADR 0011). It does not
 * follow each `TrialCompleted` / `TrialFailed` on the stream: what a summary cannot tell — a stored
 * cancellation, a newer attempt, outcomes whose summary was lost — it asks the stream for.
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
    const deadline = performance.now() + BATCHES_SETTLE_MS;
    while (performance.now() < deadline) {
      if ((await this.queuedBatches(runId)) === 0) return;
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
    if (total === 0) return { outcome: { kind: 'completed' }, tally, total };

    // Wakes the loop below: a summary arrived, the run was stopped, or the subscription closed.
    let wake: (() => void) | undefined;
    const wakeUp = (): void => wake?.();
    let heardAt = performance.now();
    let makeUpAfterMs = MAKE_UP_AFTER_MS;
    // Subscribed before the history is read: a batch stored after the read began is still heard of.
    const sub = this.client.nc.subscribe(this.client.topology.runTrialsSettledSubject(ctx.runId), {
      callback: (err, m) => {
        if (err || testFaults.deafToBatchSummaries) return;
        try {
          if (tally.applySettled(decodeTrialBatchSettled(m.json()))) {
            heardAt = performance.now();
            ctx.touch();
          }
        } catch (e) {
          this.log.warn({ err: e, runId: ctx.runId }, 'ignored an invalid trial batch summary');
        }
        wakeUp();
      },
    });
    let closed = false;
    void sub.closed.then(() => {
      closed = true;
      wakeUp();
    });
    signal.addEventListener('abort', wakeUp, { once: true });

    const failLimit =
      request.maxFailedTrials === undefined
        ? undefined
        : request.maxFailedTrials < 1
          ? Math.max(1, Math.ceil(request.maxFailedTrials * total))
          : Math.floor(request.maxFailedTrials);
    let outcome: CoordinationOutcome = { kind: 'stopped' };
    let verdict: Verdict | undefined;
    try {
      // What earlier attempts recorded, so a takeover schedules only trials without an outcome.
      await this.reader.readHistory(ctx.runId, (e) => {
        verdict ??= verdictOf(e.event, ctx.attempt);
        tally.apply(e.event);
      });
      if (verdict === undefined && !signal.aborted && tally.done.size < total) {
        await this.schedule(ctx, request, totalBars, grid, tally);
        heardAt = performance.now();
      }
      let checkedAt = performance.now();
      while (verdict === undefined && !signal.aborted) {
        if (failLimit !== undefined && tally.failed >= failLimit) {
          // Trials that finish before the stop reaches their worker are still recorded before
          // RunFailed, so the run's final failedCombinations can exceed the count here.
          const message = `stopped early: ${tally.failed} trial${tally.failed === 1 ? '' : 's'} had failed; the limit is ${failLimit} (maxFailedTrials ${request.maxFailedTrials} of ${total} combinations)`;
          this.signals.broadcastStop(ctx.runId, ctx.attempt, message);
          outcome = { kind: 'failed', message, reason: 'failed_trials' };
          break;
        }
        if (tally.done.size >= total) {
          outcome = completionOf(tally, total);
          break;
        }
        if (closed) {
          this.log.warn({ runId: ctx.runId }, 'the connection closed under the coordinator');
          outcome = { kind: 'lost' };
          break;
        }
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, Math.max(0, checkedAt + CONTROL_CHECK_MS - performance.now()));
          wake = (): void => {
            clearTimeout(timer);
            resolve();
          };
        });
        wake = undefined;
        if (performance.now() - checkedAt < CONTROL_CHECK_MS || signal.aborted) continue;
        checkedAt = performance.now();
        verdict = await this.storedVerdict(ctx);
        if (verdict === undefined && performance.now() - heardAt >= makeUpAfterMs) {
          // Quiet for a while with outcomes missing: if no batch is left, read what is stored.
          // A failed lookup counts as batches still queued: the next check asks again.
          if ((await this.queuedBatches(ctx.runId).catch(() => Number.POSITIVE_INFINITY)) === 0) {
            const before = tally.done.size;
            try {
              await this.reader.readHistory(ctx.runId, (e) => {
                if (tally.apply(e.event)) ctx.touch();
              });
            } catch (err) {
              this.log.warn({ err, runId: ctx.runId }, "could not read the run's outcomes; reading again shortly");
            }
            heardAt = performance.now();
            if (tally.done.size > before) makeUpAfterMs = MAKE_UP_AFTER_MS;
            else {
              this.log.warn(
                { runId: ctx.runId, missing: total - tally.done.size },
                'trials without an outcome and none of their batches queued; the run ends at its timeout or stall limit',
              );
              makeUpAfterMs = Math.min(2 * makeUpAfterMs, MAKE_UP_MAX_INTERVAL_MS);
            }
          }
        }
      }
      if (verdict?.kind === 'cancelled') this.signals.abort(ctx.runId, { kind: 'cancelled' });
      else if (verdict?.kind === 'superseded') this.signals.abort(ctx.runId, verdict, ctx.attempt);
      else if (outcome.kind === 'stopped' && !signal.aborted && tally.done.size >= total)
        outcome = completionOf(tally, total); // every trial had an outcome before this attempt began
      return { outcome, tally, total };
    } finally {
      signal.removeEventListener('abort', wakeUp);
      sub.unsubscribe();
      const stop = stopReasonOf(signal);
      if (outcome.kind === 'stopped' && stop?.kind !== 'shutdown' && stop?.kind !== 'superseded') {
        // Stopped (timeout, stall) or cancelled: in-flight trials stop on every worker, and queued
        // batches are dropped unrun by whoever takes them (the stop is remembered per attempt).
        // Cancellation is broadcast too: its own push may be the one that was lost. On shutdown, or
        // a lost connection, the run is handed back instead: the next coordinator reuses what
        // finishes and supersedes the queued batches. (A maxFailedTrials stop was broadcast above.)
        this.signals.broadcastStop(
          ctx.runId,
          ctx.attempt,
          stop?.kind === 'cancelled' ? 'run cancelled' : 'run stopped',
        );
      }
    }
  }

  /**
   * Whether the stream holds a cancellation of the run, or a newer attempt's start or end: the
   * pushes that say so (core NATS) may have been lost. Five direct gets; a failed lookup (NATS
   * unavailable) answers "nothing new", and the next check asks again.
   */
  private async storedVerdict(ctx: RunContext): Promise<Verdict | undefined> {
    try {
      const found = await Promise.all(
        (['RunCancellationRequested', 'RunStarted', ...RUN_END_TYPES] as const).map((type) =>
          this.reader.lastOfType(ctx.runId, type),
        ),
      );
      for (const f of found) {
        const verdict = f && verdictOf(f.event, ctx.attempt);
        if (verdict) return verdict;
      }
    } catch (err) {
      this.log.warn({ err, runId: ctx.runId }, 'could not check the run on the stream; checking again shortly');
    }
    return undefined;
  }

  /** How many of the run's trial batches are still on the work queue (taken but not yet acked included). */
  private async queuedBatches(runId: string): Promise<number> {
    const t = this.client.topology;
    const subject = t.trialWorkSubject(runId);
    const info = await this.reader.jsm.streams.info(t.streams.work.name, { subjects_filter: subject });
    return info.state.subjects?.[subject] ?? 0;
  }

  /**
   * Fans the trials without an outcome out in batches on the work queue. Batches of an earlier
   * attempt may still wait there: they are not purged (docs/architecture.md, "Discarding queued
   * trial batches") but dropped unrun by whichever worker takes them, since this attempt superseded
   * theirs (RunSignals, isStale).
   */
  private async schedule(
    ctx: RunContext,
    request: OptimizationRequest,
    totalBars: number,
    grid: readonly { index: number; params: TrialBatch['trials'][number]['params']; trialId: string }[],
    tally: OptimizationTally,
  ): Promise<void> {
    const remaining = grid.filter((g) => !tally.done.has(g.trialId));
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
    await ctx.log('INFO', `scheduled ${remaining.length} of ${grid.length} trials in ${sizes.length} batches`, {
      alreadyDone: tally.done.size,
      largestBatch: sizes[0],
      smallestBatch: sizes[sizes.length - 1],
    });
  }
}
