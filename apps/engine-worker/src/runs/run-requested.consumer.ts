import { Inject, Injectable, Logger, type OnApplicationBootstrap, type OnApplicationShutdown } from '@nestjs/common';
import type { ConsumerMessages, JsMsg } from '@nats-io/jetstream';
import type { Subscription } from '@nats-io/nats-core';
import { decodeEvent, HEADERS, parseRunSubject, type RunEvent } from '@runforge/contracts';
import { EngineError } from '@runforge/engine';
import { loadBars, Messaging, RUNFORGE_CONFIG, type RunForgeConfig } from '@runforge/platform';
import { runBacktestChunked, RunAbortedError } from './backtest.runner';
import { RunContext } from './run-context';

type RunRequestedEvent = Extract<RunEvent, { type: 'RunRequested' }>;

interface ActiveRun {
  readonly controller: AbortController;
}

function errorFields(err: unknown): { errorMessage: string; errorStackTrace?: string; errorCode?: string } {
  if (err instanceof Error) {
    const code = (err as { code?: unknown }).code;
    return {
      errorMessage: err.message,
      errorStackTrace: err.stack,
      errorCode: typeof code === 'string' ? code : undefined,
    };
  }
  return { errorMessage: String(err) };
}

/**
 * Takes `RunRequested` from the shared durable `engine` consumer, one run at a time per process,
 * and executes it: heartbeats (`working()`) keep the delivery while it runs, cancellation arrives
 * pushed on `runs.*.cancellation_requested`, and every outcome is an event followed by an ack.
 */
@Injectable()
export class RunRequestedConsumer implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly log = new Logger(RunRequestedConsumer.name);
  private messages?: ConsumerMessages;
  private cancelSub?: Subscription;
  private loop?: Promise<void>;
  private readonly active = new Map<string, ActiveRun>();
  private stopping = false;

  constructor(
    private readonly messaging: Messaging,
    @Inject(RUNFORGE_CONFIG) private readonly cfg: RunForgeConfig,
  ) {}

  onApplicationBootstrap(): void {
    const t = this.cfg.topology;
    this.cancelSub = this.messaging.nc.subscribe(t.anyRunSubject('cancellation_requested'), {
      callback: (err, msg) => {
        if (err) return;
        const parsed = parseRunSubject(t, msg.subject);
        if (parsed) this.active.get(parsed.runId)?.controller.abort();
      },
    });
    this.loop = this.consume();
  }

  async onApplicationShutdown(): Promise<void> {
    this.stopping = true;
    this.cancelSub?.unsubscribe();
    this.messages?.stop();
    await this.loop?.catch(() => undefined);
  }

  private async consume(): Promise<void> {
    const spec = this.cfg.topology.consumers.engine;
    while (!this.stopping) {
      try {
        const consumer = await this.messaging.bus.js.consumers.get(spec.stream, spec.durable);
        this.messages = await consumer.consume({ max_messages: 1 });
        for await (const msg of this.messages) {
          await this.handle(msg);
          if (this.stopping) break;
        }
      } catch (err) {
        if (this.stopping) break;
        this.log.error({ err }, 'engine consumer failed; resubscribing');
        await new Promise((r) => setTimeout(r, 1000));
      }
    }
  }

  private async handle(msg: JsMsg): Promise<void> {
    let event: RunRequestedEvent;
    try {
      const decoded = decodeEvent(msg.json());
      if (decoded.type !== 'RunRequested') throw new Error(`unexpected ${decoded.type} on the engine consumer`);
      event = decoded;
    } catch (err) {
      // A malformed request can never succeed: terminate it instead of redelivering forever.
      this.log.error({ err, subject: msg.subject }, 'undecodable RunRequested terminated');
      msg.term('undecodable');
      return;
    }
    const runId = event.runId;
    const attempt = msg.info.deliveryCount;
    const traceparent = msg.headers?.get(HEADERS.traceparent) || undefined;
    const ctx = new RunContext(this.messaging.bus, runId, attempt, this.cfg.instanceId, traceparent);
    const bus = this.messaging.bus;

    // Already finished (an earlier attempt's ack was lost) or cancelled before it started: ack only.
    for (const type of ['RunCompleted', 'RunFailed', 'RunCancelled'] as const) {
      if (await bus.lastOfType(runId, type)) {
        msg.ack();
        return;
      }
    }
    const controller = new AbortController();
    this.active.set(runId, { controller });
    const heartbeat = setInterval(() => msg.working(), event.data.request.heartbeatSeconds * 1000);
    try {
      if (await bus.lastOfType(runId, 'RunCancellationRequested')) {
        await ctx.emit('RunCancelled', { processedBars: 0, reason: 'cancelled before it started' });
        await ctx.log('INFO', 'run cancelled before it started');
        msg.ack();
        return;
      }
      const maxAttempts = event.data.request.maxRetries + 1;
      if (attempt > maxAttempts) {
        const message = `run abandoned after ${attempt - 1} attempts (maxRetries ${event.data.request.maxRetries}): every attempt lost its worker`;
        await ctx.emit('RunFailed', { errorMessage: message, reason: 'attempts_exhausted' });
        await ctx.log('ERROR', message);
        msg.term('attempts exhausted');
        return;
      }
      if (attempt > 1) {
        await ctx.emit('RunAttemptAbandoned', { abandonedAttempt: attempt - 1, reason: 'heartbeat_lost' });
        await ctx.log('WARNING', `attempt ${attempt - 1} lost its worker; retrying as attempt ${attempt}`);
      }
      if (event.data.kind !== 'backtest') {
        throw new EngineError('UNSUPPORTED_KIND', `run kind ${event.data.kind} is not supported by this worker`);
      }
      const request = event.data.request;
      const bars = await loadBars(request.dataset);
      await ctx.emit('RunStarted', { workerId: this.cfg.instanceId, totalBars: bars.length });
      await ctx.log('INFO', `backtest started: ${request.strategy} over ${bars.length} bars`, { attempt });
      const { result, durationMs } = await runBacktestChunked(
        ctx,
        request,
        bars,
        controller.signal,
        this.cfg.progressIntervalMs,
      );
      await ctx.emit('RunCompleted', {
        durationMs,
        processedBars: result.bars,
        result: { metrics: { ...result.metrics }, equityCurve: result.equityCurve, bars: result.bars },
      });
      await ctx.log('INFO', `backtest completed in ${durationMs.toFixed(0)} ms`, { sharpe: result.metrics.sharpe });
      await msg.ackAck();
    } catch (err) {
      await this.settleFailure(ctx, msg, err);
    } finally {
      clearInterval(heartbeat);
      this.active.delete(runId);
    }
  }

  private async settleFailure(ctx: RunContext, msg: JsMsg, err: unknown): Promise<void> {
    try {
      if (err instanceof RunAbortedError) {
        await ctx.emit('RunCancelled', { processedBars: err.processedBars, reason: 'cancelled by request' });
        await ctx.log('INFO', `run cancelled after ${err.processedBars} bars`);
      } else {
        const fields = errorFields(err);
        await ctx.emit('RunFailed', { ...fields, reason: 'error' });
        await ctx.log('ERROR', `run failed: ${fields.errorMessage}`, { errorCode: fields.errorCode });
      }
      await msg.ackAck();
    } catch (publishErr) {
      // Could not record the outcome (NATS down?): hand the run back for another attempt.
      this.log.error({ err: publishErr, runId: ctx.runId }, 'could not record run outcome; handing the run back');
      msg.nak(1000);
    }
  }
}
