import { Backtest, type Bars } from '@runforge/engine';
import type { BacktestRequest } from '@runforge/contracts';
import type { RunContext } from './run-context';
import { testChunkDelay } from './test-faults';
import { yieldToEventLoop } from './time-slice';
import { workerMetrics } from '@runforge/telemetry';

/** Bars processed between two returns to the event loop (a few ms of work at engine speed). */
const CHUNK_BARS = 65_536;

export class RunAbortedError extends Error {
  constructor(
    /** For backtests: bars processed when it stopped (an optimization's progress is its trials). */
    readonly processedBars?: number,
  ) {
    super('run aborted');
    this.name = 'RunAbortedError';
  }
}

/**
 * Runs one backtest in chunks so the worker keeps heart-beating and hears cancellation while a long
 * run executes. Throws the engine's errors (invalid parameters, invalid numbers) and RunAbortedError.
 */
export async function runBacktestChunked(
  ctx: RunContext,
  request: BacktestRequest,
  bars: Bars,
  signal: AbortSignal,
  /** `BarProgressed` at most this often (plus once at 100%). */
  progressIntervalMs: number,
  now: () => number = () => performance.now(),
): Promise<{ result: ReturnType<Backtest['result']>; durationMs: number }> {
  const started = now();
  const bt = new Backtest(bars, {
    strategy: request.strategy,
    params: request.params,
    initialCapital: request.initialCapital,
    commissionBps: request.commissionBps,
    slippageBps: request.slippageBps,
    positionFraction: request.positionFraction,
    allowShort: request.allowShort,
  });
  let lastProgressAt = now();
  while (!bt.done) {
    if (signal.aborted) throw new RunAbortedError(bt.processedBars);
    const before = bt.processedBars;
    bt.step(CHUNK_BARS);
    workerMetrics.bars.inc({ kind: 'backtest' }, bt.processedBars - before);
    if (!bt.done && now() - lastProgressAt >= progressIntervalMs) {
      lastProgressAt = now();
      await ctx.emit('BarProgressed', { processedBars: bt.processedBars, totalBars: bt.totalBars });
    }
    await yieldToEventLoop();
    await testChunkDelay();
  }
  await ctx.emit('BarProgressed', { processedBars: bt.totalBars, totalBars: bt.totalBars });
  return { result: bt.result(), durationMs: now() - started };
}
