import {
  Backtest,
  runBacktest,
  type BacktestConfig,
  type Bars,
  type BacktestMetrics,
  type Params,
} from '@runforge/engine';
import type { OptimizationRequest } from '@runforge/contracts';
import { testChunkDelay } from '../runs/test-faults';
import { SLICE_MS, TimeSlice } from '../runs/time-slice';

/** Bars per `step` between two looks at the clock (well under a millisecond at engine speed). */
const STEP_BARS = 16_384;

export class TrialAbortedError extends Error {
  constructor() {
    super('trial aborted');
    this.name = 'TrialAbortedError';
  }
}

/** The objective as a score where higher is better (minimised metrics are negated). */
export function scoreOf(metrics: BacktestMetrics, objective: OptimizationRequest['objective']): number {
  const value = metrics[objective.metric];
  return objective.direction === 'maximize' ? value : -value;
}

/**
 * Steps until the backtest is done or the deadline passes. Synchronous on purpose: with the stepping
 * loop inside an async function, V8 inlines the engine into it and the same trial runs slower.
 */
function advanceUntil(bt: Backtest, deadline: number): void {
  do bt.step(STEP_BARS);
  while (!bt.done && performance.now() < deadline);
}

/**
 * Runs the trials of one batch, one after the other, on the worker's thread, returning to the event
 * loop about every SLICE_MS so the worker keeps heart-beating and hears a stop.
 *
 * A trial expected to take at most half a slice (the common case: ~4 ms at 1M bars) runs as one synchronous
 * `runBacktest` call, the very code path a script calling the engine would take; the engine's
 * speed is learnt from the batch's first trial, which runs stepped. Longer trials always run
 * stepped, so a stop is heard mid-trial.
 */
export class TrialRunner {
  constructor(private readonly slice = new TimeSlice()) {}

  /** Engine speed seen in this batch, in bars per millisecond (0 until a trial finished). */
  private barsPerMs = 0;

  async run(request: OptimizationRequest, params: Params, bars: Bars, signal: AbortSignal): Promise<BacktestMetrics> {
    const config: BacktestConfig = {
      strategy: request.strategy,
      params,
      initialCapital: request.initialCapital,
      commissionBps: request.commissionBps,
      slippageBps: request.slippageBps,
      positionFraction: request.positionFraction,
      allowShort: request.allowShort,
    };
    if (signal.aborted) throw new TrialAbortedError();
    const started = performance.now();
    const short = this.barsPerMs > 0 && bars.length / this.barsPerMs <= SLICE_MS / 2;
    const metrics = short ? runBacktest(bars, config).metrics : await this.stepped(bars, config, signal);
    const ms = performance.now() - started;
    if (ms > 0) this.barsPerMs = bars.length / ms;
    await testChunkDelay();
    return metrics;
  }

  /** Whether the current slice is used up (the next `yieldIfDue` returns to the event loop). */
  get due(): boolean {
    return this.slice.due;
  }

  /** Between trials: returns to the event loop if the current slice is used up. */
  async yieldIfDue(): Promise<void> {
    await this.slice.yieldIfDue();
  }

  /** Throws what the engine throws (a combination the strategy rejects, invalid numbers). */
  private async stepped(bars: Bars, config: BacktestConfig, signal: AbortSignal): Promise<BacktestMetrics> {
    const bt = new Backtest(bars, config);
    for (;;) {
      advanceUntil(bt, this.slice.deadline);
      if (bt.done) return bt.result().metrics;
      await this.slice.yield();
      if (signal.aborted) throw new TrialAbortedError();
    }
  }
}
