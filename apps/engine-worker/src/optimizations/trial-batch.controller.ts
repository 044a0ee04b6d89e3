import { Controller, Inject, Logger, type OnApplicationShutdown } from '@nestjs/common';
import { Ctx, EventPattern, Payload } from '@nestjs/microservices';
import {
  errorFieldsOf,
  errorFingerprint,
  trialOutcomesOf,
  type TrialBatch,
  type TrialOutcome,
} from '@runforge/contracts';
import {
  ATTRS,
  currentTraceparent,
  recordSpanError,
  redeliveries,
  SpanKind,
  SPANS,
  tracer,
  withSpanFromTraceparent,
  workerMetrics,
} from '@runforge/telemetry';
import { JetStreamClient, JetStreamContext, pull, StreamReader } from '@runforge/messaging';
import { RUNFORGE_CONFIG, type RunForgeConfig } from '@runforge/service';
import type { Bars } from '@runforge/engine';
import { BarsCache } from '../runs/bars-cache';
import { RunContext } from '../runs/run-context';
import { RunSignals, stopReasonOf } from '../runs/run-signals.service';
import { summarizeBatch } from './trial-tally';
import { scoreOf, TrialAbortedError, TrialRunner } from './trial-runner';

/** How long a run seen live (and its attempt) is trusted before its batches check again. */
const LIVE_RUN_CACHE_MS = 1000;
/**
 * The next batch is asked for while the current one's last trial runs, if trials are this short:
 * the held batch waits at most one trial, far inside the 5 s ack wait.
 */
const PREFETCH_MAX_TRIAL_MS = 1000;
/**
 * Outcomes leave at most this often (and at the batch's end): every outcome is its own event, but
 * the ones of this interval go out together. Per flush, nats-server wakes to store them, acks them
 * and wakes the projection's pull: at the engine's 20 ms slices that was most of its CPU (ADR 0011).
 */
export const OUTCOME_FLUSH_MS = Number(process.env.RUNFORGE_OUTCOME_FLUSH_MS ?? 200);
/** Batches whose outcomes may still be on their way to the broker while the next one runs. */
const MAX_SETTLING = 2;
/**
 * Collects a publish that is awaited later (with the batch's others). Marked handled now: a publish
 * that fails mid-batch must not count as an unhandled rejection before the batch awaits it.
 */
function track(pending: Promise<void>[], publish: Promise<void>): void {
  publish.catch(() => undefined);
  pending.push(publish);
}

/**
 * Every worker takes trial batches from the shared `trials` consumer on the work-queue stream and
 * publishes each trial's outcome as its own `TrialCompleted` / `TrialFailed` (the card's events, on
 * `runs.<id>.trial_completed|trial_failed`), pipelined: the publishes go out every
 * OUTCOME_FLUSH_MS as trials finish and are awaited together. A trial's failure is data (message,
 * stack, fingerprint), never an outage: the other trials run on.
 *
 * The engine is kept busy between batches: the next batch is pulled while the current one's last
 * trial runs, and a finished batch is acked once its outcomes are stored, while the next one already
 * runs (the transport renews its delivery meanwhile; a crash before the ack redelivers it, and trial
 * ids make the repeat count nothing twice). Just before that ack the run's coordinator is told what
 * the batch recorded (`TrialBatchSettled`, ADR 0011).
 */
@Controller()
export class TrialBatchController implements OnApplicationShutdown {
  private readonly log = new Logger(TrialBatchController.name);
  /** Runs seen live recently: run id → when checked, and the latest attempt started. */
  private readonly liveRuns = new Map<string, { checkedAt: number; attempt: number }>();
  /** Runs seen ended or asked to stop (final): their remaining queued batches are dropped without a lookup. */
  private readonly endedRuns = new Set<string>();
  /** Finished batches waiting for their outcomes' publish acks before their own ack. */
  private readonly settling = new Set<Promise<void>>();

  constructor(
    private readonly client: JetStreamClient,
    private readonly reader: StreamReader,
    private readonly signals: RunSignals,
    private readonly bars: BarsCache,
    @Inject(RUNFORGE_CONFIG) private readonly cfg: RunForgeConfig,
  ) {}

  async onApplicationShutdown(): Promise<void> {
    await Promise.allSettled([...this.settling]);
  }

  @EventPattern('TrialBatch', pull({ consumers: ['trials'], ack: 'manual', pullExpiresMs: 2000 }))
  async handleBatch(@Payload() batch: TrialBatch, @Ctx() msg: JetStreamContext): Promise<void> {
    if (msg.redelivered) redeliveries.inc({ consumer: msg.consumer });
    const attributes = {
      [ATTRS.runId]: batch.runId,
      [ATTRS.attempt]: batch.attempt,
      [ATTRS.trialCount]: batch.trials.length,
    };
    // The batch span is a child of the coordinator's run span (its traceparent rode on the message).
    const { settled } = await withSpanFromTraceparent(
      SPANS.worker.trialBatch,
      msg.traceparent,
      attributes,
      () => this.runBatch(msg, batch),
      { kind: SpanKind.CONSUMER },
    );
    this.settling.add(settled);
    void settled.finally(() => this.settling.delete(settled));
    if (this.settling.size >= MAX_SETTLING) await Promise.race(this.settling);
  }

  /**
   * Runs the batch's trials; resolves once they ran, with `settled`: the delivery's ack (or nak on
   * shutdown or failure) once their outcomes are stored.
   */
  private async runBatch(msg: JetStreamContext, batch: TrialBatch): Promise<{ settled: Promise<void> }> {
    const controller = this.signals.register(batch.runId, batch.attempt);
    const ctx = new RunContext(
      this.client,
      batch.runId,
      batch.attempt,
      this.cfg.instanceId,
      currentTraceparent(),
      // Per delivery: a redelivered batch runs other trials (it skips the recorded ones), so its
      // log lines must not reuse the first delivery's message ids.
      `batch${batch.batchIndex}.${msg.deliveryCount}`,
    );
    workerMetrics.activeRuns.inc({ kind: 'trial-batch' });
    const pending: Promise<void>[] = [];
    let recorded: TrialOutcome[] = [];
    let settleDelivery = (): void => msg.ack();
    try {
      // A batch of a run that already ended or was stopped, or of an attempt a newer coordinator has
      // replaced (it rescheduled every trial without an outcome), is acked without running: the
      // stop was heard here (RunSignals remembers it), or the stream says so.
      if (!controller.signal.aborted && !(await this.isStale(batch))) {
        // Redelivered (its worker died or shut down mid-batch): the trials it already recorded are
        // not run again.
        const todo = msg.redelivered ? await this.withoutRecorded(batch) : batch;
        recorded = await this.runTrials(ctx, todo, controller.signal, pending, msg);
      }
      // On shutdown hand the rest back to another worker; done, or the run was stopped: ack, so its
      // remaining trials never run.
      if (stopReasonOf(controller.signal)?.kind === 'shutdown') settleDelivery = (): void => msg.nak();
    } catch (err) {
      this.log.error({ err, runId: batch.runId }, 'trial batch failed; handing it back');
      settleDelivery = (): void => msg.nak(1000);
    } finally {
      workerMetrics.activeRuns.dec({ kind: 'trial-batch' });
      this.signals.release(batch.runId, controller);
    }
    const settled = Promise.all(pending)
      .then(
        () => {
          // Stored: the coordinator hears of them before the batch leaves the queue (its run's end
          // waits for the queue to empty), then the delivery is settled.
          if (recorded.length > 0) this.tellCoordinator(batch, recorded);
          settleDelivery();
        },
        (err: unknown) => {
          this.log.error({ err, runId: batch.runId }, 'trial outcomes not stored; handing the batch back');
          msg.nak(1000);
        },
      )
      .catch((err: unknown) => this.log.error({ err, runId: batch.runId }, 'could not settle a trial batch delivery'));
    return { settled };
  }

  /** A batch's outcomes are stored: tells the run's coordinator (ADR 0011); it reads them back if this is lost. */
  private tellCoordinator(batch: TrialBatch, recorded: readonly TrialOutcome[]): void {
    try {
      this.client.publishTrialBatchSettled(summarizeBatch(batch, recorded));
    } catch (err) {
      this.log.warn(
        { err, runId: batch.runId },
        "could not tell the coordinator of a settled batch; it reads the run's outcomes instead",
      );
    }
  }

  /**
   * Runs the trials in order until done or stopped; their outcomes' publishes go to `pending`.
   * Returns the outcomes published.
   */
  private async runTrials(
    ctx: RunContext,
    batch: TrialBatch,
    signal: AbortSignal,
    pending: Promise<void>[],
    msg: JetStreamContext,
  ): Promise<TrialOutcome[]> {
    const bars = await this.bars.get(batch.request.dataset);
    // The run's log gets the first failure of each kind in the batch, then how many more failed
    // alike: every failed trial is in the trials list with its stack, and a grid failing by the
    // thousand must not bury the log (or the stream) under identical lines.
    const failures = new Map<string, { first: TrialOutcome & { status: 'Failed' }; count: number }>();
    const noteFailure = (o: TrialOutcome & { status: 'Failed' }): void => {
      const seen = failures.get(o.fingerprint);
      if (seen) {
        seen.count++;
        return;
      }
      failures.set(o.fingerprint, { first: o, count: 1 });
      const context = { trialId: o.trialId, params: o.params, fingerprint: o.fingerprint };
      track(pending, ctx.log('WARNING', `trial ${o.index} failed: ${o.errorMessage}`, context));
    };
    // Outcomes go out at most every OUTCOME_FLUSH_MS, between engine slices (and at the end): each
    // is its own event, but the publishes of a flush leave in one socket write.
    const queued: TrialOutcome[] = [];
    const published: TrialOutcome[] = [];
    const publishQueued = (): void => {
      for (const o of queued.splice(0)) {
        published.push(o);
        if (o.status === 'Failed') {
          const { status: _s, ...data } = o;
          track(pending, ctx.emitKeyed('TrialFailed', data, o.trialId));
        } else {
          const { status: _s, ...data } = o;
          track(pending, ctx.emitKeyed('TrialCompleted', data, o.trialId));
        }
      }
    };
    const runner = new TrialRunner();
    const started = performance.now();
    let flushedAt = started;
    const last = batch.trials.length - 1;
    for (let i = 0; i <= last; i++) {
      if (signal.aborted) break;
      if (i === last && i > 0 && (performance.now() - started) / i < PREFETCH_MAX_TRIAL_MS) msg.pullAhead();
      const outcome = await this.runOne(batch, batch.trials[i] as TrialBatch['trials'][number], bars, signal, runner);
      if (outcome === 'aborted') break;
      if (outcome.status === 'Failed') noteFailure(outcome);
      queued.push(outcome);
      ctx.touch();
      if (runner.due && performance.now() - flushedAt >= OUTCOME_FLUSH_MS) {
        publishQueued();
        flushedAt = performance.now();
      }
      await runner.yieldIfDue();
    }
    publishQueued();
    for (const { first, count } of failures.values()) {
      if (count === 1) continue;
      const message = `${count - 1} more trial${count > 2 ? 's' : ''} of batch ${batch.batchIndex} failed like trial ${first.index}: ${first.errorMessage}`;
      track(pending, ctx.log('WARNING', message, { fingerprint: first.fingerprint, failedInBatch: count }));
    }
    return published;
  }

  /**
   * One trial: its outcome (metrics and score, or message, stack and fingerprint). A failed trial is
   * data, not an outage; it also gets its own error span.
   */
  private async runOne(
    batch: TrialBatch,
    trial: TrialBatch['trials'][number],
    bars: Bars,
    signal: AbortSignal,
    runner: TrialRunner,
  ): Promise<TrialOutcome | 'aborted'> {
    const started = performance.now();
    const startedAt = Date.now();
    const base = { trialId: trial.trialId, index: trial.index, params: trial.params, workerId: this.cfg.instanceId };
    try {
      const metrics = await runner.run(batch.request, trial.params, bars, signal);
      workerMetrics.bars.inc({ kind: 'optimization' }, bars.length);
      workerMetrics.trials.inc({ status: 'Completed' });
      return {
        ...base,
        status: 'Completed',
        metrics: { ...metrics },
        score: scoreOf(metrics, batch.request.objective),
        durationMs: performance.now() - started,
      };
    } catch (err) {
      if (err instanceof TrialAbortedError) return 'aborted';
      const e = err instanceof Error ? err : new Error(String(err));
      // Successful trials are counted on the batch span; a failed one gets its own span (child of the
      // batch span, timed from its start) carrying the error, so a trace shows exactly what failed.
      const span = tracer().startSpan(SPANS.worker.trial, {
        startTime: startedAt,
        attributes: { [ATTRS.trialIndex]: trial.index, [ATTRS.trialId]: trial.trialId },
      });
      recordSpanError(span, e);
      span.end();
      workerMetrics.trials.inc({ status: 'Failed' });
      const fields = errorFieldsOf(e);
      return {
        ...base,
        status: 'Failed',
        ...fields,
        fingerprint: errorFingerprint(fields.errorMessage, fields.errorStackTrace).fingerprint,
        durationMs: performance.now() - started,
      };
    }
  }

  /**
   * Whether the batch must not run: its run already ended or was asked to stop (a batch queued
   * before that), or a newer attempt started (its coordinator rescheduled the trials). Five direct
   * gets; a live run's answer is reused for a second, since a stop arriving meanwhile is pushed to
   * the batch in hand anyway (RunSignals), and an ended run's for good.
   */
  private async isStale(batch: TrialBatch): Promise<boolean> {
    const { runId } = batch;
    if (this.endedRuns.has(runId)) return true;
    const cached = this.liveRuns.get(runId);
    if (cached !== undefined && performance.now() - cached.checkedAt < LIVE_RUN_CACHE_MS)
      return batch.attempt < cached.attempt;
    const [started, ...ends] = await Promise.all(
      (['RunStarted', 'RunCancellationRequested', 'RunCompleted', 'RunFailed', 'RunCancelled'] as const).map((type) =>
        this.reader.lastOfType(runId, type),
      ),
    );
    if (ends.some((f) => f !== undefined)) {
      this.liveRuns.delete(runId);
      this.endedRuns.add(runId);
      if (this.endedRuns.size > 1_000) this.endedRuns.delete(this.endedRuns.values().next().value as string);
      return true;
    }
    const attempt = started?.event.attempt ?? batch.attempt;
    this.liveRuns.set(runId, { checkedAt: performance.now(), attempt });
    if (this.liveRuns.size > 100) this.liveRuns.delete(this.liveRuns.keys().next().value as string);
    return batch.attempt < attempt;
  }

  /** The batch without the trials whose outcomes the run's history already holds. */
  private async withoutRecorded(batch: TrialBatch): Promise<TrialBatch> {
    const wanted = new Set(batch.trials.map((t) => t.trialId));
    const recorded = new Set<string>();
    await this.reader.readHistory(batch.runId, (e) => {
      for (const o of trialOutcomesOf(e.event)) if (wanted.has(o.trialId)) recorded.add(o.trialId);
    });
    if (recorded.size === 0) return batch;
    this.log.log(
      { runId: batch.runId, batchIndex: batch.batchIndex, skipped: recorded.size },
      'redelivered batch: skipping recorded trials',
    );
    return { ...batch, trials: batch.trials.filter((t) => !recorded.has(t.trialId)) };
  }
}
