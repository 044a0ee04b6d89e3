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
import { RunSignals } from '../runs/run-signals.service';
import { SerialPullConsumer } from '../runs/serial-pull-consumer';
import { runTrial, scoreOf, TrialAbortedError } from './trial-runner';

const yieldToEventLoop = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));
/** Slow trials: their outcomes are published at least this often, so progress stays live. */
const RECORD_INTERVAL_MS = 250;
/** How long a run seen live is trusted to still be live before its batches check again. */
const LIVE_RUN_CACHE_MS = 1000;

/**
 * Every worker takes trial batches from the shared `trials` consumer on the work-queue stream, one
 * batch at a time, and publishes the trials' outcomes (`TrialsRecorded`). A trial's failure is
 * data (message, stack, fingerprint), never an outage: the other trials run on.
 */
@Injectable()
export class TrialBatchConsumer extends SerialPullConsumer {
  protected readonly log = new Logger(TrialBatchConsumer.name);
  private consumer?: Consumer;
  /** Runs seen live recently (run id → when checked). */
  private readonly liveRuns = new Map<string, number>();

  constructor(
    private readonly messaging: Messaging,
    private readonly signals: RunSignals,
    private readonly bars: BarsCache,
    @Inject(RUNFORGE_CONFIG) private readonly cfg: RunForgeConfig,
  ) {
    super();
  }

  protected async prepare(): Promise<void> {
    const spec = this.cfg.topology.consumers.trials;
    this.consumer = await this.messaging.bus.js.consumers.get(spec.stream, spec.durable);
  }

  protected next(): Promise<JsMsg | null> {
    return (this.consumer as Consumer).next({ expires: 2000 });
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
    const traceparent = msg.headers?.get(HEADERS.traceparent) || undefined;
    const attributes = {
      [ATTRS.runId]: batch.runId,
      [ATTRS.attempt]: batch.attempt,
      [ATTRS.trialCount]: batch.trials.length,
    };
    // The batch span is a child of the coordinator's run span (its traceparent rode on the message).
    await withSpanFromTraceparent(SPANS.worker.trialBatch, traceparent, attributes, () => this.runBatch(msg, batch), {
      kind: SpanKind.CONSUMER,
    });
  }

  private async runBatch(msg: JsMsg, batch: TrialBatch): Promise<void> {
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
    try {
      if (await this.runIsOver(batch.runId)) {
        msg.ack();
        return;
      }
      const bars = await this.bars.get(batch.request.dataset);
      const pending: Promise<void>[] = [];
      let recorded: TrialOutcome[] = [];
      let flushedAt = performance.now();
      // Outcomes travel together (one TrialsRecorded per batch, or every RECORD_INTERVAL_MS on slow
      // trials so progress stays live): per-trial messages cost more than a short trial.
      const flush = (): void => {
        if (recorded.length === 0) return;
        const outcomes = recorded;
        recorded = [];
        flushedAt = performance.now();
        pending.push(ctx.emitKeyed('TrialsRecorded', { outcomes }, `${outcomes[0]?.trialId}+${outcomes.length}`));
      };
      for (const trial of batch.trials) {
        if (controller.signal.aborted) break;
        const outcome = await this.runOne(ctx, batch, trial, bars, controller.signal, pending);
        if (outcome === 'aborted') break;
        recorded.push(outcome);
        if (performance.now() - flushedAt >= RECORD_INTERVAL_MS) flush();
        await yieldToEventLoop();
      }
      flush();
      await Promise.all(pending);
      const reason = controller.signal.aborted ? (controller.signal.reason as { kind?: string }).kind : undefined;
      if (reason === 'shutdown')
        msg.nak(); // hand the rest back to another worker
      else msg.ack(); // done, or the run was stopped: its remaining trials must not run
    } catch (err) {
      this.log.error({ err, runId: batch.runId }, 'trial batch failed; handing it back');
      msg.nak(1000);
    } finally {
      workerMetrics.activeRuns.dec({ kind: 'trial-batch' });
      clearInterval(heartbeat);
      this.signals.release(batch.runId, controller);
    }
  }

  /**
   * One trial: its outcome becomes `TrialCompleted` or `TrialFailed` (message, stack, fingerprint).
   * The publishes are collected in `pending` and awaited once per batch, so trials don't wait on
   * broker round trips one by one.
   */
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
    pending: Promise<void>[],
  ): Promise<TrialOutcome | 'aborted'> {
    const started = performance.now();
    const startedAt = Date.now();
    const base = { trialId: trial.trialId, index: trial.index, params: trial.params, workerId: this.cfg.instanceId };
    try {
      const metrics = await runTrial(batch.request, trial.params, bars, signal);
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
      pending.push(
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
