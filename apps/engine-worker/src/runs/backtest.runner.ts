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
  /** `BarProgressed` at most this often (plus once at 100% if it reported any). */
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
  let reported = false;
  while (!bt.done) {
    if (signal.aborted) throw new RunAbortedError(bt.processedBars);
    const before = bt.processedBars;
    bt.step(CHUNK_BARS);
    workerMetrics.bars.inc({ kind: 'backtest' }, bt.processedBars - before);
    if (!bt.done && now() - lastProgressAt >= progressIntervalMs) {
      lastProgressAt = now();
      reported = true;
      await ctx.emit('BarProgressed', { processedBars: bt.processedBars, totalBars: bt.totalBars });
    }
    await yieldToEventLoop();
    await testChunkDelay();
  }
  // 100% once the run has reported progress; a run that ended before its first progress tick has
  // nothing to report that its RunCompleted (which carries processedBars) does not say.
  if (reported) ctx.emitPipelined('BarProgressed', { processedBars: bt.totalBars, totalBars: bt.totalBars });
  return { result: bt.result(), durationMs: now() - started };
}
