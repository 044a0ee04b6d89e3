import { Inject, Injectable, Logger, type OnApplicationBootstrap, type OnApplicationShutdown } from '@nestjs/common';
import type { JsMsg } from '@nats-io/jetstream';
import { decodeTrialBatch, HEADERS, type TrialBatch } from '@runforge/contracts';
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
  withChildSpan,
  withSpanFromTraceparent,
  workerMetrics,
  type RunForgeConfig,
  type Span,
} from '@runforge/platform';
import type { Bars } from '@runforge/engine';
import { BarsCache } from '../runs/bars-cache';
import { RunContext } from '../runs/run-context';
import { RunSignals } from '../runs/run-signals.service';
import { runTrial, scoreOf, TrialAbortedError } from './trial-runner';

const yieldToEventLoop = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/**
 * Every worker takes trial batches from the shared `trials` consumer on the work-queue stream, one
 * batch at a time, and publishes `TrialCompleted` / `TrialFailed` per trial. A trial's failure is
 * data (message, stack, fingerprint), never an outage: the other trials run on.
 */
@Injectable()
export class TrialBatchConsumer implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly log = new Logger(TrialBatchConsumer.name);
  private inFlight?: Promise<void>;
  private loop?: Promise<void>;
  private stopping = false;

  constructor(
    private readonly messaging: Messaging,
    private readonly signals: RunSignals,
    private readonly bars: BarsCache,
    @Inject(RUNFORGE_CONFIG) private readonly cfg: RunForgeConfig,
  ) {}

  onApplicationBootstrap(): void {
    this.loop = this.consume();
  }

  /** Stops taking batches; the batch in hand is handed back by its own abort handling. */
  async stop(): Promise<void> {
    this.stopping = true;
    // The loop ends after the message in hand settles; `next()` expires within 2 s.
    await this.inFlight?.catch(() => undefined);
    await this.loop?.catch(() => undefined);
  }

  async onApplicationShutdown(): Promise<void> {
    await this.stop();
  }

  /**
   * Pulls one message at a time with `next()` (no client-side buffer), so a worker that stops holds
   * nothing it has not started: a message that arrives after the stop is handed back at once.
   */
  private async consume(): Promise<void> {
    const spec = this.cfg.topology.consumers.trials;
    while (!this.stopping) {
      try {
        const consumer = await this.messaging.bus.js.consumers.get(spec.stream, spec.durable);
        while (!this.stopping) {
          const msg = await consumer.next({ expires: 2000 });
          if (!msg) continue;
          if (this.stopping) {
            msg.nak();
            break;
          }
          this.inFlight = this.handle(msg);
          await this.inFlight;
          this.inFlight = undefined;
        }
      } catch (err) {
        if (this.stopping) break;
        this.log.error({ err }, 'trial consumer failed; resubscribing');
        await new Promise((r) => setTimeout(r, 1000));
      }
    }
  }

  private async handle(msg: JsMsg): Promise<void> {
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
    const attributes = { [ATTRS.runId]: batch.runId, [ATTRS.attempt]: batch.attempt, [ATTRS.trialCount]: batch.trials.length };
    // The batch span is a child of the coordinator's run span (its traceparent rode on the message).
    await withSpanFromTraceparent(SPANS.worker.trialBatch, traceparent, attributes, () => this.runBatch(msg, batch), {
      kind: SpanKind.CONSUMER,
    });
  }

  private async runBatch(msg: JsMsg, batch: TrialBatch): Promise<void> {
    const controller = this.signals.register(batch.runId);
    const heartbeat = setInterval(() => msg.working(), 2000);
    const ctx = new RunContext(this.messaging.bus, batch.runId, batch.attempt, this.cfg.instanceId, currentTraceparent());
    workerMetrics.activeRuns.inc({ kind: 'trial-batch' });
    try {
      if (await this.runIsOver(batch.runId)) {
        msg.ack();
        return;
      }
      const bars = await this.bars.get(batch.request.dataset);
      const pending: Promise<void>[] = [];
      for (const trial of batch.trials) {
        if (controller.signal.aborted) break;
        const outcome = await withChildSpan(
          SPANS.worker.trial,
          { [ATTRS.trialIndex]: trial.index, [ATTRS.trialId]: trial.trialId },
          (span) => this.runOne(ctx, batch, trial, bars, controller.signal, span, pending),
        );
        if (outcome === 'aborted') break;
        await yieldToEventLoop();
      }
      await Promise.all(pending);
      const reason = controller.signal.aborted ? (controller.signal.reason as { kind?: string }).kind : undefined;
      if (reason === 'shutdown') msg.nak(); // hand the rest back to another worker
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
  private async runOne(
    ctx: RunContext,
    batch: TrialBatch,
    trial: TrialBatch['trials'][number],
    bars: Bars,
    signal: AbortSignal,
    span: Span,
    pending: Promise<void>[],
  ): Promise<'done' | 'aborted'> {
    const started = performance.now();
    try {
      const metrics = await runTrial(batch.request, trial.params, bars, signal);
      workerMetrics.bars.inc({ kind: 'optimization' }, bars.length);
      workerMetrics.trials.inc({ status: 'Completed' });
      pending.push(
        ctx.emitKeyed(
          'TrialCompleted',
          {
            trialId: trial.trialId,
            index: trial.index,
            params: trial.params,
            metrics: { ...metrics },
            score: scoreOf(metrics, batch.request.objective),
            durationMs: performance.now() - started,
            workerId: this.cfg.instanceId,
          },
          trial.trialId,
        ),
      );
      return 'done';
    } catch (err) {
      if (err instanceof TrialAbortedError) return 'aborted';
      const e = err instanceof Error ? err : new Error(String(err));
      recordSpanError(span, e);
      workerMetrics.trials.inc({ status: 'Failed' });
      const { fingerprint } = errorFingerprint(e.message, e.stack);
      const code = (e as { code?: unknown }).code;
      pending.push(
        ctx.emitKeyed(
          'TrialFailed',
          {
            trialId: trial.trialId,
            index: trial.index,
            params: trial.params,
            errorMessage: e.message,
            errorStackTrace: e.stack,
            errorCode: typeof code === 'string' ? code : undefined,
            fingerprint,
            durationMs: performance.now() - started,
            workerId: this.cfg.instanceId,
          },
          trial.trialId,
        ),
      );
      pending.push(ctx.log('WARNING', `trial ${trial.index} failed: ${e.message}`, { trialId: trial.trialId, params: trial.params }));
      return 'done';
    }
  }

  private async runIsOver(runId: string): Promise<boolean> {
    const bus = this.messaging.bus;
    for (const type of ['RunCancellationRequested', 'RunCompleted', 'RunFailed', 'RunCancelled'] as const) {
      if (await bus.lastOfType(runId, type)) return true;
    }
    return false;
  }
}
