import { Controller, Inject, Logger } from '@nestjs/common';
import { Ctx, EventPattern, Payload } from '@nestjs/microservices';
import { CONSUMER_SETTINGS, errorFieldsOf, RUN_END_TYPES, type RunDispatch, type RunEvent } from '@runforge/contracts';
import {
  ATTRS,
  currentTraceparent,
  recordSpanError,
  redeliveries,
  SPAN_EVENTS,
  SpanKind,
  SPANS,
  withSpanFromTraceparent,
  workerMetrics,
  type Span,
} from '@runforge/telemetry';
import { isNatsUnavailable, JetStreamClient, JetStreamContext, pull, StreamReader } from '@runforge/messaging';
import { RUNFORGE_CONFIG, type RunForgeConfig } from '@runforge/service';
import { OptimizationCoordinator } from '../optimizations/optimization.coordinator';
import { runBacktestChunked, RunAbortedError } from './backtest.runner';
import { BarsCache } from './bars-cache';
import { RunContext } from './run-context';
import { RunSignals, stopReasonOf, type StopReason } from './run-signals.service';
import { crashIfPoisoned, stallIfPoisoned } from './test-faults';

type RunRequestedEvent = Extract<RunEvent, { type: 'RunRequested' }>;

/** How long a dispatch waits for its RunRequested before it is dropped as an orphan. */
const ORPHAN_WAIT_MS = 5000;

/**
 * Executes runs handed to the engine workers: a `RunDispatch` from the shared priority consumers
 * (`engine-high` first, then `engine-normal`; the transport pulls one at a time, so a busy worker
 * never takes a second run), naming the run's `RunRequested` on RUNS. A backtest runs here, an
 * optimization through its coordinator. The transport renews the delivery while it runs;
 * cancellation is pushed (RunSignals); the run's time budget (`timeoutSeconds`) is a timer. Every
 * outcome is an event, published before the delivery is settled, the run's end last of all.
 */
@Controller()
export class RunDispatchController {
  private readonly log = new Logger(RunDispatchController.name);

  constructor(
    private readonly client: JetStreamClient,
    private readonly reader: StreamReader,
    private readonly signals: RunSignals,
    private readonly bars: BarsCache,
    private readonly coordinator: OptimizationCoordinator,
    @Inject(RUNFORGE_CONFIG) private readonly cfg: RunForgeConfig,
  ) {}

  @EventPattern('RunDispatch', pull({ consumers: ['engineHigh', 'engineNormal'], ack: 'manual', onDrain: 'deliver' }))
  async handleDispatch(@Payload() dispatch: RunDispatch, @Ctx() ctx: JetStreamContext): Promise<void> {
    if (ctx.draining) {
      // Arrived after this worker began shutting down: recorded as a shutdown hand-back (not a failed
      // attempt, whatever maxRetries says) before it goes back to the queue.
      await this.handBackUnstarted(this.runContext(dispatch.runId, ctx.deliveryCount, undefined), ctx);
      return;
    }
    const found = await this.requestOf(dispatch.runId, ctx);
    if (found === 'orphan') {
      // It can never run: terminate instead of redelivering forever.
      this.log.warn({ runId: dispatch.runId }, 'dispatch without a RunRequested dropped');
      ctx.term('orphan');
      return;
    }
    const event = found.event;
    if (ctx.redelivered) redeliveries.inc({ consumer: ctx.consumer });
    const traceparent = found.traceparent ?? ctx.traceparent;
    const attributes = {
      [ATTRS.runId]: event.runId,
      [ATTRS.runKind]: event.data.kind,
      [ATTRS.strategy]: event.data.request.strategy,
      [ATTRS.attempt]: ctx.deliveryCount,
      [ATTRS.bars]: event.data.totalBars,
    };
    // One span per attempt, in the run's trace; this attempt's events are its children.
    await withSpanFromTraceparent(SPANS.worker.run, traceparent, attributes, (span) => this.execute(ctx, event, span), {
      kind: SpanKind.CONSUMER,
    });
  }

  private runContext(runId: string, attempt: number, traceparent: string | undefined): RunContext {
    return new RunContext(this.client, runId, attempt, this.cfg.instanceId, traceparent);
  }

  /**
   * The run a dispatch names, from its `RunRequested` on RUNS (the source of truth). The gateway
   * stores the dispatch a moment before the request, so wait briefly; a dispatch whose request never
   * arrives is an orphan (its POST failed) and is dropped.
   */
  private async requestOf(
    runId: string,
    ctx: JetStreamContext,
  ): Promise<{ event: RunRequestedEvent; traceparent?: string } | 'orphan'> {
    const deadline = Date.now() + ORPHAN_WAIT_MS;
    for (;;) {
      const stored = await this.reader.lastOfType(runId, 'RunRequested');
      if (stored?.event.type === 'RunRequested') return { event: stored.event, traceparent: stored.traceparent };
      if (Date.now() > deadline) return 'orphan';
      ctx.working();
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  private async execute(msg: JetStreamContext, event: RunRequestedEvent, span: Span): Promise<void> {
    const runId = event.runId;
    const attempt = msg.deliveryCount;
    const ctx = this.runContext(runId, attempt, currentTraceparent());
    const bus = this.reader;
    const request = event.data.request;

    // Already finished (an earlier attempt's ack was lost): ack only.
    for (const type of RUN_END_TYPES) {
      if (await bus.lastOfType(runId, type)) {
        msg.ack();
        return;
      }
    }
    const controller = this.signals.register(runId, attempt);
    // Renew the delivery at the run's heartbeat, and always well inside the consumer's ack wait.
    const beatMs = Math.min(request.heartbeatSeconds, CONSUMER_SETTINGS.engine.ackWaitSeconds / 3) * 1000;
    const heartbeat = setInterval(() => msg.working(), beatMs);
    let stallWatch: NodeJS.Timeout | undefined;
    // The time budget runs per attempt, from the moment this worker takes the run.
    const timeout = setTimeout(
      () => controller.abort({ kind: 'timeout', seconds: request.timeoutSeconds } satisfies StopReason),
      request.timeoutSeconds * 1000,
    );
    try {
      if (await bus.lastOfType(runId, 'RunCancellationRequested')) {
        await ctx.log('INFO', 'run cancelled before it started');
        await ctx.emit('RunCancelled', { processedBars: 0, reason: 'cancelled before it started' });
        await msg.ackAck();
        return;
      }
      // The dispatch's last possible delivery (the consumer's max_deliver) must end the run, or
      // JetStream would stop delivering it and leave it unfinished.
      if (attempt >= CONSUMER_SETTINGS.engine.maxDeliver) {
        const message = `run failed: its dispatch reached the delivery limit (${attempt} deliveries, most of them handed back by workers shutting down)`;
        await this.failAttemptsExhausted(ctx, msg, message, 'delivery limit');
        return;
      }
      if (await this.handBackIfShuttingDown(ctx, msg, controller.signal)) return;
      if (attempt > 1) {
        span.addEvent(SPAN_EVENTS.retry, { [ATTRS.previousAttempt]: attempt - 1 });
        const abandoned = await this.abandonedAttempts(runId);
        // The previous delivery may have recorded its own end (stall, shutdown, lost history);
        // otherwise its worker went silent (died, or was cut off past its lease).
        const silent = !abandoned.has(attempt - 1);
        if (silent) {
          await ctx.emit('RunAttemptAbandoned', { abandonedAttempt: attempt - 1, reason: 'heartbeat_lost' });
          abandoned.set(attempt - 1, 'heartbeat_lost');
        }
        // maxRetries counts failed attempts: every earlier delivery but a clean shutdown's hand-back.
        const shutdowns = [...abandoned.values()].filter((why) => why === 'shutdown').length;
        const failed = attempt - 1 - shutdowns;
        const exhausted = failed >= request.maxRetries + 1;
        if (silent) {
          const next = exhausted ? 'no retries left' : `retrying as attempt ${attempt}`;
          await ctx.log('WARNING', `attempt ${attempt - 1} lost its worker; ${next}`);
        }
        if (exhausted) {
          const why = abandoned.get(attempt - 1);
          const cause =
            why === 'stalled'
              ? 'the last attempt stopped making progress'
              : why === 'coordinator_lost'
                ? "the last attempt's coordinator lost the run's history"
                : failed === 1
                  ? 'its attempt lost its worker before finishing'
                  : 'each attempt lost its worker before finishing';
          const attempts = failed === 1 ? '1 failed attempt' : `${failed} failed attempts`;
          const message = `run failed after ${attempts} (maxRetries ${request.maxRetries}): ${cause}`;
          await this.failAttemptsExhausted(ctx, msg, message, 'attempts exhausted');
          return;
        }
        // Whatever an older attempt still runs (a worker that lost its lease in a NATS outage, its
        // queued trial batches) stops quietly: this attempt owns the run now.
        this.signals.broadcastSuperseded(runId, attempt);
        // Back off from the second failed attempt on: a run that keeps killing workers must not spin.
        if (failed >= 2) await this.backoff(failed + 1, controller.signal);
        // A shutdown that began during the reads or the backoff: hand back before starting.
        if (await this.handBackIfShuttingDown(ctx, msg, controller.signal)) return;
      }
      if (request.stallSeconds !== undefined) {
        const limitMs = request.stallSeconds * 1000;
        ctx.touch();
        stallWatch = setInterval(
          () => {
            if (Date.now() - ctx.lastProgressAt > limitMs)
              controller.abort({ kind: 'stalled', seconds: request.stallSeconds ?? 0 } satisfies StopReason);
          },
          Math.min(1000, limitMs / 2),
        );
      }
      workerMetrics.activeRuns.inc({ kind: event.data.kind });
      try {
        if (event.data.kind === 'backtest') await this.runBacktest(ctx, event, controller.signal);
        else await this.runOptimization(ctx, event, controller.signal);
      } finally {
        workerMetrics.activeRuns.dec({ kind: event.data.kind });
      }
      await msg.ackAck();
    } catch (err) {
      if (err instanceof RunAbortedError)
        span.addEvent(SPAN_EVENTS.cancelled, { [ATTRS.processedBars]: err.processedBars });
      else recordSpanError(span, err);
      await this.settleFailure(ctx, msg, err, controller.signal);
    } finally {
      clearInterval(heartbeat);
      clearInterval(stallWatch);
      clearTimeout(timeout);
      this.signals.release(runId, controller);
    }
  }

  /**
   * Ends a run whose attempts ran out (failed attempts past maxRetries, or the dispatch's delivery
   * limit). This attempt never starts, but older ones may still be at work: trials running on every
   * worker, batches queued, a coordinator cut off from NATS. Once the end is recorded they are told
   * to stop like any other stopped run (cancel, timeout, maxFailedTrials): a stop for every attempt
   * up to this one, so running trials abort and queued batches are dropped unrun. It goes out only
   * once the end is stored: this worker hears it too, and a publish failing after it would be
   * settled as that stop instead of being handed back.
   */
  private async failAttemptsExhausted(
    ctx: RunContext,
    msg: JetStreamContext,
    message: string,
    termReason: string,
  ): Promise<void> {
    await ctx.log('ERROR', message);
    await ctx.emit('RunFailed', { errorMessage: message, reason: 'attempts_exhausted' });
    this.signals.broadcastStop(ctx.runId, ctx.attempt, message);
    msg.term(termReason);
  }

  /**
   * A worker that is shutting down starts nothing more: the run is handed back at once, recorded
   * as a shutdown (which maxRetries does not count). Answers whether it was.
   */
  private async handBackIfShuttingDown(ctx: RunContext, msg: JetStreamContext, signal: AbortSignal): Promise<boolean> {
    if (!msg.draining && stopReasonOf(signal)?.kind !== 'shutdown') return false;
    await this.handBackUnstarted(ctx, msg);
    return true;
  }

  /** Records a delivery this stopping worker did not start as a shutdown hand-back, then naks it. */
  private async handBackUnstarted(ctx: RunContext, msg: JetStreamContext): Promise<void> {
    const detail = 'worker shutting down; handed back before starting';
    await ctx.emit('RunAttemptAbandoned', { abandonedAttempt: ctx.attempt, reason: 'shutdown', detail });
    await ctx.log('WARNING', `attempt ${ctx.attempt} abandoned: ${detail}`);
    msg.nak();
  }

  /**
   * How each recorded attempt of a run ended (`RunAttemptAbandoned` reasons by attempt), read from
   * that event's subject alone. Read only when a run is redelivered.
   */
  private async abandonedAttempts(runId: string): Promise<Map<number, string>> {
    const abandoned = new Map<number, string>();
    await this.reader.readHistory(
      runId,
      ({ event }) => {
        if (event.type === 'RunAttemptAbandoned') abandoned.set(event.data.abandonedAttempt, event.data.reason);
      },
      'RunAttemptAbandoned',
    );
    return abandoned;
  }

  private async backoff(attempt: number, signal: AbortSignal): Promise<void> {
    const ms = Math.min(30_000, 1000 * 2 ** (attempt - 3));
    await new Promise<void>((resolve) => {
      const t = setTimeout(resolve, ms);
      signal.addEventListener('abort', () => {
        clearTimeout(t);
        resolve();
      });
    });
  }

  private async runBacktest(ctx: RunContext, event: RunRequestedEvent, signal: AbortSignal): Promise<void> {
    if (event.data.kind !== 'backtest') return;
    const request = event.data.request;
    const bars = await this.bars.get(request.dataset);
    await ctx.emit('RunStarted', { workerId: this.cfg.instanceId, totalBars: bars.length });
    await ctx.log('INFO', `backtest started: ${request.strategy} over ${bars.length} bars`, { attempt: ctx.attempt });
    crashIfPoisoned(request.dataset.synthetic?.seed);
    await stallIfPoisoned(request.dataset.synthetic?.seed, signal);
    const { result, durationMs } = await runBacktestChunked(ctx, request, bars, signal, this.cfg.progressIntervalMs);
    await this.stopIfSuperseded(ctx);
    await ctx.log('INFO', `backtest completed in ${durationMs.toFixed(0)} ms`, { sharpe: result.metrics.sharpe });
    await ctx.emit('RunCompleted', {
      durationMs,
      processedBars: result.bars,
      result: { metrics: { ...result.metrics }, equityCurve: result.equityCurve, bars: result.bars },
    });
  }

  private async runOptimization(ctx: RunContext, event: RunRequestedEvent, signal: AbortSignal): Promise<void> {
    if (event.data.kind !== 'optimization') return;
    const request = event.data.request;
    const started = performance.now();
    await ctx.emit('RunStarted', { workerId: this.cfg.instanceId, totalBars: event.data.totalBars });
    await ctx.log('INFO', `optimization started: ${request.strategy}, ${event.data.totalCombinations} combinations`, {
      attempt: ctx.attempt,
    });
    crashIfPoisoned(request.dataset.synthetic?.seed);
    const { outcome, tally, total } = await this.coordinator.coordinate(ctx, request, event.data.totalBars, signal);
    const counts = { completedCombinations: tally.completed, failedCombinations: tally.failed };
    switch (outcome.kind) {
      case 'completed':
        await this.stopIfSuperseded(ctx);
        await ctx.log(
          'INFO',
          `optimization completed: ${tally.completed} of ${total} trials succeeded, ${tally.failed} failed`,
          { best: tally.top[0]?.params },
        );
        await ctx.emit('RunCompleted', {
          durationMs: performance.now() - started,
          ...counts,
          result: tally.result(request.objective),
        });
        return;
      case 'failed':
        await ctx.log('ERROR', outcome.message);
        await ctx.emit('RunFailed', { errorMessage: outcome.message, reason: outcome.reason });
        return;
      case 'lost':
        // Nothing asked it to stop: the run's history ended under the coordinator (a consumer lost
        // in a NATS outage). Not a cancellation: the attempt is handed back, and the next one
        // reuses every recorded trial.
        throw new CoordinatorLostError('the run history ended before the grid finished');
      case 'stopped':
        // No counts on the RunCancelled / RunFailed(timeout) that follows: the coordinator's tally
        // may trail outcomes already stored, and what counts is what the stream holds before the
        // run's end (the read model's counts).
        throw new RunAbortedError();
      default: {
        const never: never = outcome;
        throw new Error(`unexpected outcome ${JSON.stringify(never)}`);
      }
    }
  }

  /**
   * Before an attempt records the run's end: if a newer attempt has started or ended the run (this
   * worker was cut off past its lease and the announcement never reached it), it stops here instead,
   * recording nothing.
   */
  private async stopIfSuperseded(ctx: RunContext): Promise<void> {
    const by = await this.supersededBy(ctx);
    if (by !== undefined) {
      this.signals.abort(ctx.runId, { kind: 'superseded', byAttempt: by }, ctx.attempt);
      throw new RunAbortedError();
    }
  }

  /**
   * The newer attempt that has started, or ended the run, if one has (an attempt whose predecessors
   * used up the retries ends the run without starting).
   */
  private async supersededBy(ctx: RunContext): Promise<number | undefined> {
    const found = await Promise.all(
      (['RunStarted', ...RUN_END_TYPES] as const).map((type) => this.reader.lastOfType(ctx.runId, type)),
    );
    const newest = Math.max(0, ...found.map((f) => f?.event.attempt ?? 0));
    return newest > ctx.attempt ? newest : undefined;
  }

  private async settleFailure(
    ctx: RunContext,
    msg: JetStreamContext,
    err: unknown,
    signal: AbortSignal,
  ): Promise<void> {
    const reason = stopReasonOf(signal);
    // Recording a failure, a cancel or a hand-back is not for an attempt a newer one replaced.
    const by = reason?.kind === 'superseded' ? reason.byAttempt : await this.supersededBy(ctx).catch(() => undefined);
    if (by !== undefined) {
      // A newer attempt owns the run (and this delivery): nothing to record, nothing to settle.
      this.log.warn(
        { runId: ctx.runId, attempt: ctx.attempt, byAttempt: by },
        'run attempt superseded by a newer one; stopped',
      );
      return;
    }
    if (!reason && isNatsUnavailable(err)) {
      // NATS did not answer (an outage mid-run): the run is not at fault. Hand it back; the next
      // attempt (here or elsewhere, once NATS is back) resumes it, recording this one as lost.
      this.log.warn({ err, runId: ctx.runId, attempt: ctx.attempt }, 'NATS unavailable mid-run; handing the run back');
      msg.nak(1000);
      return;
    }
    try {
      // A clean deploy, an attempt whose progress stopped moving, or a coordinator that lost the
      // run's history: hand the run back at once (no waiting for the heartbeat timeout) and say why.
      const abandon =
        reason?.kind === 'stalled'
          ? { why: 'stalled' as const, detail: `no progress for ${reason.seconds} s (stallSeconds)` }
          : reason?.kind === 'shutdown'
            ? { why: 'shutdown' as const, detail: 'worker shutting down' }
            : err instanceof CoordinatorLostError
              ? { why: 'coordinator_lost' as const, detail: err.message }
              : undefined;
      if (abandon) {
        const { why, detail } = abandon;
        await ctx.emit('RunAttemptAbandoned', { abandonedAttempt: ctx.attempt, reason: why, detail });
        await ctx.log('WARNING', `attempt ${ctx.attempt} abandoned: ${detail}`);
        msg.nak();
        return;
      }
      if (reason?.kind === 'timeout') {
        const message = `run exceeded its time budget of ${reason.seconds} s (timeoutSeconds) and was stopped`;
        await ctx.log('ERROR', message);
        await ctx.emit('RunFailed', { errorMessage: message, reason: 'timeout', ...progressOf(err) });
      } else if (err instanceof RunAbortedError || reason?.kind === 'cancelled') {
        const progress = progressOf(err);
        await ctx.log(
          'INFO',
          `run cancelled${progress.processedBars !== undefined ? ` after ${progress.processedBars} bars` : ''}`,
        );
        await ctx.emit('RunCancelled', { ...progress, reason: 'cancelled by request' });
      } else {
        const fields = errorFieldsOf(err);
        await ctx.log('ERROR', `run failed: ${fields.errorMessage}`, { errorCode: fields.errorCode });
        await ctx.emit('RunFailed', { ...fields, reason: 'error' });
      }
      await msg.ackAck();
    } catch (publishErr) {
      // Could not record the outcome (NATS down?): hand the run back for another attempt.
      this.log.error({ err: publishErr, runId: ctx.runId }, 'could not record run outcome; handing the run back');
      msg.nak(1000);
    }
  }
}

/** The coordinator lost the run's history without being asked to stop (the attempt is handed back). */
class CoordinatorLostError extends Error {
  override readonly name = 'CoordinatorLostError';
}

function progressOf(err: unknown): { processedBars?: number } {
  return err instanceof RunAbortedError && err.processedBars !== undefined ? { processedBars: err.processedBars } : {};
}
