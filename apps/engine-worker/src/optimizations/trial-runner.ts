import { Backtest, type Bars, type BacktestMetrics, type Params } from '@runforge/engine';
import type { OptimizationRequest } from '@runforge/contracts';
import { testChunkDelay } from '../runs/test-faults';

const CHUNK_BARS = 65_536;
const yieldToEventLoop = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

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
 * One trial: a backtest of the request's strategy with these parameters. Long datasets run in
 * chunks so the worker keeps heart-beating and hears a stop. Throws what the engine throws (a
 * combination the strategy rejects, invalid numbers): the caller turns that into `TrialFailed`.
 */
export async function runTrial(
  request: OptimizationRequest,
  params: Params,
  bars: Bars,
  signal: AbortSignal,
): Promise<BacktestMetrics> {
  const bt = new Backtest(bars, {
    strategy: request.strategy,
    params,
    initialCapital: request.initialCapital,
    commissionBps: request.commissionBps,
    slippageBps: request.slippageBps,
    positionFraction: request.positionFraction,
    allowShort: request.allowShort,
  });
  while (!bt.done) {
    if (signal.aborted) throw new TrialAbortedError();
    bt.step(CHUNK_BARS);
    if (!bt.done) await yieldToEventLoop();
  }
  await testChunkDelay();
  return bt.result().metrics;
}
