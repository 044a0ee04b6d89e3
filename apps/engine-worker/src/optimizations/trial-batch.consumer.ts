import { Inject, Injectable, Logger } from '@nestjs/common';
import type { Consumer, JsMsg } from '@nats-io/jetstream';
import { decodeTrialBatch, HEADERS, type TrialBatch, type TrialOutcome } from '@runforge/contracts';
import {
  ATTRS,
  currentTraceparent,
  errorFingerprint,
  Messaging,
  recordSpanError,
  redeliveries,
  RUNFORGE_CONFIG,
  SpanKind,
  SPANS,
  tracer,
  withSpanFromTraceparent,
  workerMetrics,
  type RunForgeConfig,
} from '@runforge/platform';
import type { Bars } from '@runforge/engine';
import { BarsCache } from '../runs/bars-cache';
import { RunContext } from '../runs/run-context';
import { RunSignals, stopReasonOf } from '../runs/run-signals.service';
import { SerialPullConsumer } from '../runs/serial-pull-consumer';
import { scoreOf, TrialAbortedError, TrialRunner } from './trial-runner';

/** Within a batch, outcomes are published at least this often, so progress stays live. */
const RECORD_INTERVAL_MS = 250;
/** How long a run seen live is trusted to still be live before its batches check again. */
const LIVE_RUN_CACHE_MS = 1000;
/** How long one pull waits for a batch (the client's minimum is 1 s). */
const PULL_EXPIRES_MS = 2000;
/**
 * The next batch is asked for while the current one's last trial runs, if trials are this short:
 * the held batch waits at most one trial, far inside the 5 s ack wait.
 */
const PREFETCH_MAX_TRIAL_MS = 1000;
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
 * publishes the trials' outcomes (`TrialsRecorded`). A trial's failure is data (message, stack,
 * fingerprint), never an outage: the other trials run on.
 *
 * The engine is kept busy between batches: the next batch is pulled while the current one's last
 * trial runs, and a finished batch is acked once its outcomes are stored, while the next one already
 * runs (its delivery stays alive meanwhile; a crash before the ack redelivers it, and trial ids make
 * the repeat count nothing twice).
 */
@Injectable()
export class TrialBatchConsumer extends SerialPullConsumer {
  protected readonly log = new Logger(TrialBatchConsumer.name);
  private consumer?: Consumer;
  /** Runs seen live recently (run id → when checked). */
  private readonly liveRuns = new Map<string, number>();
  private prefetched?: Promise<JsMsg | null>;
  /** Finished batches waiting for their outcomes' publish acks before their own ack. */
  private readonly settling = new Set<Promise<void>>();

  constructor(
    private readonly messaging: Messaging,
    private readonly signals: RunSignals,
    private readonly bars: BarsCache,
    @Inject(RUNFORGE_CONFIG) private readonly cfg: RunForgeConfig,
  ) {
    super();
  }

  override async stop(): Promise<void> {
    await super.stop();
    // A batch pulled ahead that the loop never took: hand it back now, not after its ack wait.
    const held = await this.prefetched?.catch(() => null);
    this.prefetched = undefined;
    held?.nak();
    await Promise.allSettled([...this.settling]);
  }

  protected async prepare(): Promise<void> {
    const spec = this.cfg.topology.consumers.trials;
    this.consumer = await this.messaging.bus.js.consumers.get(spec.stream, spec.durable);
  }

  protected next(): Promise<JsMsg | null> {
    const msg = this.prefetched ?? this.pull();
    this.prefetched = undefined;
    return msg;
  }

  private pull(): Promise<JsMsg | null> {
    return (this.consumer as Consumer).next({ expires: PULL_EXPIRES_MS });
  }

  /** Asks for the next batch ahead of time (once; `next()` hands it over). */
  private prefetch(): void {
    if (this.prefetched || this.stopping || !this.consumer) return;
    const pulled = this.pull();
    // A failed pull surfaces when `next()` hands it to the loop (which resubscribes); until then it
    // must not count as an unhandled rejection.
    pulled.catch(() => undefined);
    this.prefetched = pulled;
  }

  protected async handle(msg: JsMsg): Promise<void> {
    let batch: TrialBatch;
    try {
      batch = decodeTrialBatch(msg.json());
    } catch (err) {
      this.log.error({ err, subject: msg.subject }, 'undecodable trial batch terminated');
      msg.term('undecodable');
      return;
    }
    if (msg.info.redelivered) redeliveries.inc({ consumer: msg.info.consumer });
    msg.working(); // a prefetched batch waited one trial: its ack wait starts over now
    const traceparent = msg.headers?.get(HEADERS.traceparent) || undefined;
    const attributes = {
      [ATTRS.runId]: batch.runId,
      [ATTRS.attempt]: batch.attempt,
      [ATTRS.trialCount]: batch.trials.length,
    };
    // The batch span is a child of the coordinator's run span (its traceparent rode on the message).
    const { settled } = await withSpanFromTraceparent(
      SPANS.worker.trialBatch,
      traceparent,
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
  private async runBatch(msg: JsMsg, batch: TrialBatch): Promise<{ settled: Promise<void> }> {
    const controller = this.signals.register(batch.runId);
    const heartbeat = setInterval(() => msg.working(), 2000);
    const ctx = new RunContext(
      this.messaging.bus,
      batch.runId,
      batch.attempt,
      this.cfg.instanceId,
      currentTraceparent(),
    );
    workerMetrics.activeRuns.inc({ kind: 'trial-batch' });
    const pending: Promise<void>[] = [];
    let settleDelivery = (): void => msg.ack();
    try {
      // A batch of a run that already ended or was stopped is acked without running.
      if (!(await this.runIsOver(batch.runId))) await this.runTrials(ctx, batch, controller.signal, pending);
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
        () => settleDelivery(),
        (err: unknown) => {
          this.log.error({ err, runId: batch.runId }, 'trial outcomes not stored; handing the batch back');
          msg.nak(1000);
        },
      )
      .catch((err: unknown) => this.log.error({ err, runId: batch.runId }, 'could not settle a trial batch delivery'))
      .finally(() => clearInterval(heartbeat));
    return { settled };
  }

  /** Runs the trials in order until done or stopped; their outcomes' publishes go to `pending`. */
  private async runTrials(
    ctx: RunContext,
    batch: TrialBatch,
    signal: AbortSignal,
    pending: Promise<void>[],
  ): Promise<void> {
    const bars = await this.bars.get(batch.request.dataset);
    let recorded: TrialOutcome[] = [];
    let flushedAt = performance.now();
    // Outcomes travel together (one TrialsRecorded at the end of the batch, and every
    // RECORD_INTERVAL_MS within a longer one so progress stays live): per-trial messages cost more
    // than a short trial.
    const flush = (): void => {
      if (recorded.length === 0) return;
      const outcomes = recorded;
      recorded = [];
      flushedAt = performance.now();
      track(pending, ctx.emitKeyed('TrialsRecorded', { outcomes }, `${outcomes[0]?.trialId}+${outcomes.length}`));
    };
    const runner = new TrialRunner();
    const started = performance.now();
    const last = batch.trials.length - 1;
    for (let i = 0; i <= last; i++) {
      if (signal.aborted) break;
      if (i === last && i > 0 && (performance.now() - started) / i < PREFETCH_MAX_TRIAL_MS) this.prefetch();
      const outcome = await this.runOne(
        ctx,
        batch,
        batch.trials[i] as TrialBatch['trials'][number],
        bars,
        signal,
        runner,
        pending,
      );
      if (outcome === 'aborted') break;
      recorded.push(outcome);
      if (performance.now() - flushedAt >= RECORD_INTERVAL_MS) flush();
      await runner.yieldIfDue();
    }
    flush();
  }

  /**
   * One trial: its outcome (metrics and score, or message, stack and fingerprint). A failed trial is
   * data, not an outage; it also gets a WARNING log line and its own error span.
   */
  private async runOne(
    ctx: RunContext,
    batch: TrialBatch,
    trial: TrialBatch['trials'][number],
    bars: Bars,
    signal: AbortSignal,
    runner: TrialRunner,
    pending: Promise<void>[],
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
      const code = (e as { code?: unknown }).code;
      track(
        pending,
        ctx.log('WARNING', `trial ${trial.index} failed: ${e.message}`, {
          trialId: trial.trialId,
          params: trial.params,
        }),
      );
      return {
        ...base,
        status: 'Failed',
        errorMessage: e.message,
        errorStackTrace: e.stack,
        errorCode: typeof code === 'string' ? code : undefined,
        fingerprint: errorFingerprint(e.message, e.stack).fingerprint,
        durationMs: performance.now() - started,
      };
    }
  }

  /**
   * Whether the run already ended or was asked to stop (a batch queued before that must not run).
   * Four direct gets; a live run's answer is reused for a second, since a stop arriving meanwhile is
   * pushed to the batch in hand anyway (RunSignals).
   */
  private async runIsOver(runId: string): Promise<boolean> {
    const cached = this.liveRuns.get(runId);
    if (cached !== undefined && performance.now() - cached < LIVE_RUN_CACHE_MS) return false;
    const bus = this.messaging.bus;
    const found = await Promise.all(
      (['RunCancellationRequested', 'RunCompleted', 'RunFailed', 'RunCancelled'] as const).map((type) =>
        bus.lastOfType(runId, type),
      ),
    );
    const over = found.some((f) => f !== undefined);
    if (over) this.liveRuns.delete(runId);
    else {
      this.liveRuns.set(runId, performance.now());
      if (this.liveRuns.size > 100) this.liveRuns.delete(this.liveRuns.keys().next().value as string);
    }
    return over;
  }
}
