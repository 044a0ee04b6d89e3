import { Controller, Inject, Logger } from '@nestjs/common';
import { Ctx, EventPattern, Payload } from '@nestjs/microservices';
import {
  CONSUMER_SETTINGS,
  SHORT_RUN_MAX_BARS as DEFAULT_SHORT_RUN_MAX_BARS,
  errorFieldsOf,
  isEnergyRun,
  isShortRun,
  kindOf,
  RUN_END_TYPES,
  type RunDispatch,
  type RunEvent,
} from '@runforge/contracts';
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
import { ProgramKindsCatalog } from './program-kinds.catalog';
import { ProgramFailedError, runProgramKind } from './program.runner';
import { runEnergyKind } from './energy.runner';
import { EnergySolverThread } from '../energy/solver-thread';
import { EnergyPositions, EnergySourceStore } from '@runforge/datasets';
import { runBacktestChunked, RunAbortedError } from './backtest.runner';
import { BarsCache } from './bars-cache';
import { RunContext } from './run-context';
import {
  ATTEMPT_EVENT_TYPES,
  decide,
  evolveAttempts,
  foldAttempts,
  handBack,
  INITIAL_ATTEMPT_STATE,
  settle,
  supersededBy,
  type AttemptDecision,
  type AttemptError,
  type AttemptState,
  type SettleDecision,
} from './attempt-decision';
import { RunSignals, stopReasonOf, type StopReason } from './run-signals.service';
import { crashIfPoisoned, stallIfPoisoned } from './test-faults';

type RunRequestedEvent = Extract<RunEvent, { type: 'RunRequested' }>;

/** How long a dispatch waits for its RunRequested before it is dropped as an orphan. */
const ORPHAN_WAIT_MS = 5000;

/**
 * Short runs (`isShortRun`: backtests of at most RUNFORGE_SHORT_RUN_MAX_BARS bars) a worker runs at
 * once; a long run runs alone (docs/architecture.md#worker-concurrency). 1 makes every run serial.
 */
export const SHORT_RUN_CONCURRENCY = Math.max(1, Number(process.env.RUNFORGE_SHORT_RUN_CONCURRENCY ?? 8));
export const SHORT_RUN_MAX_BARS = Number(process.env.RUNFORGE_SHORT_RUN_MAX_BARS ?? DEFAULT_SHORT_RUN_MAX_BARS);

/**
 * What a first delivery reads of the run: its request and whether its cancellation was requested.
 * The other events the attempt decisions fold (RunStarted, the run's end, RunAttemptAbandoned) are
 * written only by a worker that received this dispatch, so none exists before its first delivery.
 */
const FIRST_DELIVERY_TYPES = [
  'RunRequested',
  'RunCancellationRequested',
] as const satisfies readonly (typeof ATTEMPT_EVENT_TYPES)[number][];

/**
 * Executes runs handed to the engine workers: a `RunDispatch` from the shared priority consumers
 * (`engine-high` first, then `engine-normal`), naming the run's `RunRequested` on RUNS. A worker
 * runs up to SHORT_RUN_CONCURRENCY short runs at once, and a long one alone: the transport holds a
 * long run's delivery until the short ones in flight have finished and pulls nothing while it runs. A backtest runs here, an
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
    private readonly programs: ProgramKindsCatalog,
    private readonly sources: EnergySourceStore,
    private readonly positions: EnergyPositions,
    private readonly solver: EnergySolverThread,
    @Inject(RUNFORGE_CONFIG) private readonly cfg: RunForgeConfig,
  ) {}

  @EventPattern(
    'RunDispatch',
    pull({
      consumers: ['engineHigh', 'engineNormal'],
      ack: 'manual',
      onDrain: 'deliver',
      maxInFlight: SHORT_RUN_CONCURRENCY,
      exclusive: (d) => !isShortRun(d as RunDispatch, SHORT_RUN_MAX_BARS),
    }),
  )
  async handleDispatch(@Payload() dispatch: RunDispatch, @Ctx() msg: JetStreamContext): Promise<void> {
    const attempt = msg.deliveryCount;
    if (msg.draining) {
      // Arrived after this worker began shutting down: recorded as a shutdown hand-back (not a failed
      // attempt, whatever maxRetries says) before it goes back to the queue. Nothing read.
      await this.carryOut(this.runContext(dispatch.runId, attempt, undefined), msg, handBack(attempt), 'backtest');
      return;
    }
    // The run's state, read once for this delivery. The gateway stores the dispatch a moment before
    // the request, so a dispatch without a request is read again briefly; one whose request never
    // arrives is an orphan (its POST failed).
    const state = await this.readState(dispatch.runId, msg);
    const requested = state.requested;
    if (!requested) {
      // It can never run: terminated instead of redelivered forever.
      this.log.warn({ runId: dispatch.runId }, 'dispatch without a RunRequested dropped');
      msg.term('orphan');
      return;
    }
    if (msg.redelivered) redeliveries.inc({ consumer: msg.consumer });
    const event = requested.event;
    const attributes = {
      [ATTRS.runId]: event.runId,
      [ATTRS.runKind]: kindOf(event.data),
      [ATTRS.strategy]: 'strategy' in event.data.request ? event.data.request.strategy : kindOf(event.data),
      [ATTRS.attempt]: attempt,
      [ATTRS.bars]: event.data.totalBars,
    };
    // One span per attempt, in the run's trace; this attempt's events are its children.
    await withSpanFromTraceparent(
      SPANS.worker.run,
      requested.traceparent ?? msg.traceparent,
      attributes,
      (span) => this.execute(msg, event, state, span),
      { kind: SpanKind.CONSUMER },
    );
  }

  private runContext(runId: string, attempt: number, traceparent: string | undefined): RunContext {
    return new RunContext(this.client, runId, attempt, this.cfg.instanceId, traceparent);
  }

  private delivery(msg: JetStreamContext, shuttingDown: boolean): Parameters<typeof decide>[1] {
    return { attempt: msg.deliveryCount, maxDeliver: CONSUMER_SETTINGS.engine.maxDeliver, shuttingDown };
  }

  /**
   * The run's history folded into what the attempt decisions need (waiting up to ORPHAN_WAIT_MS for
   * its request). A first delivery reads FIRST_DELIVERY_TYPES by direct gets, in parallel (the
   * same state as the whole history folds to, without an ordered consumer per run); a redelivery
   * reads the whole history.
   */
  private async readState(runId: string, msg: JetStreamContext): Promise<AttemptState> {
    const deadline = Date.now() + ORPHAN_WAIT_MS;
    for (;;) {
      let state = INITIAL_ATTEMPT_STATE;
      if (msg.deliveryCount === 1) {
        const found = await Promise.all(FIRST_DELIVERY_TYPES.map((type) => this.reader.lastOfType(runId, type)));
        state = foldAttempts(found.flatMap((e) => (e ? [e] : [])).sort((a, b) => a.seq - b.seq));
      } else {
        await this.reader.readHistory(runId, (e) => (state = evolveAttempts(state, e)));
      }
      if (state.requested || Date.now() > deadline) return state;
      msg.working();
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  /**
   * `state` brought up to date on what may have changed while the attempt ran — a newer attempt's
   * start, the run's end — from the last event of each of those types (direct gets, whatever the
   * history's length).
   */
  private async refreshed(state: AttemptState, runId: string): Promise<AttemptState> {
    const found = await Promise.all(
      (['RunStarted', ...RUN_END_TYPES] as const).map((type) => this.reader.lastOfType(runId, type)),
    );
    return found.reduce<AttemptState>((s, f) => (f ? evolveAttempts(s, f) : s), state);
  }

  private async execute(
    msg: JetStreamContext,
    event: RunRequestedEvent,
    state: AttemptState,
    span: Span,
  ): Promise<void> {
    const runId = event.runId;
    const attempt = msg.deliveryCount;
    const kind = event.data.kind;
    const kindName = kindOf(event.data);
    const ctx = this.runContext(runId, attempt, currentTraceparent());
    const request = event.data.request;
    const controller = this.signals.register(runId, attempt);
    const shuttingDown = (): boolean => msg.draining || stopReasonOf(controller.signal)?.kind === 'shutdown';
    // Renew the delivery at the run's heartbeat (the transport also renews it well inside the ack wait).
    const beatMs = Math.min(request.heartbeatSeconds, CONSUMER_SETTINGS.engine.ackWaitSeconds / 3) * 1000;
    const heartbeat = setInterval(() => msg.working(), beatMs);
    let stallWatch: NodeJS.Timeout | undefined;
    // The time budget runs per attempt, from the moment this worker takes the run.
    const timeout = setTimeout(
      () =>
        controller.abort({
          kind: 'timeout',
          seconds: request.timeoutSeconds,
          retryable: 'retryOnTimeout' in request && request.retryOnTimeout,
        } satisfies StopReason),
      request.timeoutSeconds * 1000,
    );
    try {
      const decision = decide(state, this.delivery(msg, shuttingDown()));
      if (decision.kind !== 'start') {
        await this.carryOut(ctx, msg, decision, kind);
        return;
      }
      await this.record(ctx, decision.events);
      if (attempt > 1) span.addEvent(SPAN_EVENTS.retry, { [ATTRS.previousAttempt]: attempt - 1 });
      // Whatever an older attempt still runs (a worker that lost its lease in a NATS outage, its
      // queued trial batches) stops quietly: this attempt owns the run now.
      if (decision.supersedeOlder) this.signals.broadcastSuperseded(runId, attempt);
      if (decision.backoffMs > 0) await this.backoff(decision.backoffMs, controller.signal);
      // A shutdown that began during the reads or the backoff: hand back before starting.
      if (shuttingDown()) {
        await this.carryOut(ctx, msg, handBack(attempt), kind);
        return;
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
      workerMetrics.activeRuns.inc({ kind: kindName });
      try {
        if (kind === 'backtest') await this.runBacktest(ctx, event, state, controller.signal);
        else if (kind === 'optimization') await this.runOptimization(ctx, event, state, controller.signal);
        else if (isEnergyRun(event.data))
          await runEnergyKind(
            ctx,
            event.data,
            { sources: this.sources, positions: this.positions, solver: this.solver },
            controller.signal,
            () => this.stopIfSuperseded(ctx, state),
          );
        else await this.runProgram(ctx, event, state, controller.signal);
      } finally {
        workerMetrics.activeRuns.dec({ kind: kindName });
      }
      await msg.ackAck();
    } catch (err) {
      if (err instanceof RunAbortedError)
        span.addEvent(SPAN_EVENTS.cancelled, { [ATTRS.processedBars]: err.processedBars });
      else recordSpanError(span, err);
      await this.settleStopped(ctx, msg, state, kind, err, stopReasonOf(controller.signal));
    } finally {
      clearInterval(heartbeat);
      clearInterval(stallWatch);
      clearTimeout(timeout);
      this.signals.release(runId, controller);
    }
  }

  /** Publishes a decision's events in order (a log line through the run's log). */
  private async record(ctx: RunContext, events: AttemptDecision['events']): Promise<void> {
    for (const e of events) {
      if (e.type === 'RunLogged') await ctx.log(e.data.level, e.data.message, e.data.context);
      else await ctx.emit(e.type, e.data);
    }
  }

  /**
   * Carries a decision out: its events, in order (an optimization's end waits until its queued and
   * running batches are settled, so the end stays the last event of the run), a stop of older attempts
   * if it ends the run, then the delivery's settlement.
   */
  private async carryOut(
    ctx: RunContext,
    msg: JetStreamContext,
    decision: Exclude<AttemptDecision, { kind: 'start' }> | SettleDecision,
    kind: RunRequestedEvent['data']['kind'],
  ): Promise<void> {
    const ends = decision.events.some((e) => e.type === 'RunFailed' || e.type === 'RunCancelled');
    const stopsOlder = decision.kind === 'fail' && 'stopAttemptsUpTo' in decision ? decision : undefined;
    if (ends && kind === 'optimization') {
      // Older attempts' trials stop and their queued batches are dropped before the end is written.
      if (stopsOlder) this.signals.broadcastStop(ctx.runId, stopsOlder.stopAttemptsUpTo, stopsOlder.message);
      await this.coordinator.whenBatchesSettled(ctx.runId);
    }
    await this.record(ctx, decision.events);
    // A backtest's older attempts hear it once the end is stored (this worker hears it too, and a
    // publish failing before it would be settled as that stop instead of being handed back).
    if (stopsOlder && kind !== 'optimization')
      this.signals.broadcastStop(ctx.runId, stopsOlder.stopAttemptsUpTo, stopsOlder.message);
    const ack = decision.acknowledge;
    switch (ack.kind) {
      case 'ack':
        await msg.ackAck();
        return;
      case 'nak':
        msg.nak(ack.delayMs);
        return;
      case 'term':
        msg.term(ack.reason);
        return;
      case 'none':
        return;
      default: {
        const never: never = ack;
        throw new Error(`unexpected acknowledgement ${JSON.stringify(never)}`);
      }
    }
  }

  private async backoff(ms: number, signal: AbortSignal): Promise<void> {
    await new Promise<void>((resolve) => {
      const t = setTimeout(resolve, ms);
      signal.addEventListener('abort', () => {
        clearTimeout(t);
        resolve();
      });
    });
  }

  private async runBacktest(
    ctx: RunContext,
    event: RunRequestedEvent,
    state: AttemptState,
    signal: AbortSignal,
  ): Promise<void> {
    if (event.data.kind !== 'backtest') return;
    const request = event.data.request;
    const bars = await this.bars.get(request.dataset);
    // Pipelined: the run's events before its end are published without waiting for each ack in
    // turn; all of them are stored before the end is published (`flush`), so it stays the last.
    ctx.emitPipelined('RunStarted', { workerId: this.cfg.instanceId, totalBars: bars.length });
    // A short run's start and end lines would only repeat RunStarted and RunCompleted (worker, bars,
    // duration, metrics): it logs none, two events fewer of five per short job (ADR 0008).
    const logsLifecycle = bars.length > SHORT_RUN_MAX_BARS;
    if (logsLifecycle)
      ctx.logPipelined('INFO', `backtest started: ${request.strategy} over ${bars.length} bars`, {
        attempt: ctx.attempt,
      });
    crashIfPoisoned(request.dataset.synthetic?.seed);
    await stallIfPoisoned(request.dataset.synthetic?.seed, signal);
    const { result, durationMs } = await runBacktestChunked(ctx, request, bars, signal, this.cfg.progressIntervalMs);
    await this.stopIfSuperseded(ctx, state);
    if (logsLifecycle)
      ctx.logPipelined('INFO', `backtest completed in ${durationMs.toFixed(0)} ms`, { sharpe: result.metrics.sharpe });
    await ctx.flush();
    await ctx.emit('RunCompleted', {
      durationMs,
      processedBars: result.bars,
      result: { metrics: { ...result.metrics }, equityCurve: result.equityCurve, bars: result.bars },
    });
  }

  private async runOptimization(
    ctx: RunContext,
    event: RunRequestedEvent,
    state: AttemptState,
    signal: AbortSignal,
  ): Promise<void> {
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
        await this.stopIfSuperseded(ctx, state);
        // The run's end is the last event of its history: batches still finishing write first.
        await this.coordinator.whenBatchesSettled(ctx.runId);
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
        await this.coordinator.whenBatchesSettled(ctx.runId);
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

  private async runProgram(
    ctx: RunContext,
    event: RunRequestedEvent,
    state: AttemptState,
    signal: AbortSignal,
  ): Promise<void> {
    if (event.data.kind !== 'program') return;
    const name = event.data.program;
    const declared = this.programs.get(name);
    if (!declared) {
      throw new ProgramFailedError(
        `program kind "${name}" is not declared on worker ${this.cfg.instanceId} (RUNFORGE_PROGRAM_KINDS: ${this.programs.source ?? 'not set'})`,
        'UNDECLARED_KIND',
      );
    }
    await runProgramKind(ctx, declared, event.data.request, signal, this.cfg.progressIntervalMs, () =>
      this.stopIfSuperseded(ctx, state),
    );
  }

  /**
   * Before an attempt records the run's end: if a newer attempt has started or ended the run (this
   * worker was cut off past its lease and the announcement never reached it), it stops here instead,
   * recording nothing.
   */
  private async stopIfSuperseded(ctx: RunContext, state: AttemptState): Promise<void> {
    // A newer attempt exists only if this delivery was redelivered, which NATS does once its ack wait
    // passed without a renewal: not before half of it has passed since this attempt took the run.
    if (performance.now() - ctx.takenAt < (CONSUMER_SETTINGS.engine.ackWaitSeconds * 1000) / 2) return;
    const by = supersededBy(await this.refreshed(state, ctx.runId), ctx.attempt);
    if (by !== undefined) {
      this.signals.abort(ctx.runId, { kind: 'superseded', byAttempt: by }, ctx.attempt);
      throw new RunAbortedError();
    }
  }

  /** Settles an attempt that stopped or failed, as `settle` decides from the run's current state. */
  private async settleStopped(
    ctx: RunContext,
    msg: JetStreamContext,
    state: AttemptState,
    kind: RunRequestedEvent['data']['kind'],
    err: unknown,
    stop: StopReason | undefined,
  ): Promise<void> {
    const error: AttemptError =
      err instanceof RunAbortedError
        ? { kind: 'aborted', ...(err.processedBars === undefined ? {} : { processedBars: err.processedBars }) }
        : err instanceof CoordinatorLostError
          ? { kind: 'coordinator-lost', message: err.message }
          : isNatsUnavailable(err)
            ? { kind: 'nats-unavailable', fields: errorFieldsOf(err) }
            : { kind: 'error', fields: errorFieldsOf(err) };
    // What a newer attempt did meanwhile decides whether this one may record anything; if NATS does
    // not answer, the state read at the start stands.
    const current = await this.refreshed(state, ctx.runId).catch(() => state);
    const decision = settle(current, { attempt: ctx.attempt, ...(stop ? { stop } : {}), error });
    if (decision.kind === 'superseded') {
      this.log.warn(
        { runId: ctx.runId, attempt: ctx.attempt, byAttempt: decision.byAttempt },
        'run attempt superseded by a newer one; stopped',
      );
    } else if (decision.kind === 'retry-later') {
      this.log.warn({ err, runId: ctx.runId, attempt: ctx.attempt }, 'NATS unavailable mid-run; handing the run back');
    }
    try {
      await this.carryOut(ctx, msg, decision, kind);
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
