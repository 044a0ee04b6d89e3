/**
 * Finalisation of the streaming accumulators the hot loop maintains. Definitions (also in
 * docs/engine.md): per-bar simple returns r_i = E_i / E_{i-1} - 1 of the close-marked equity,
 * i = 1..n-1; risk-free rate 0; annualisation by the 24/7 bars-per-year of the timeframe.
 */

import { EngineError, ENGINE_ERROR_CODES } from './errors';

export interface BacktestMetrics {
  totalReturn: number;
  cagr: number;
  annualizedVolatility: number;
  sharpe: number;
  sortino: number;
  /** Largest peak-to-trough fall of equity as a positive fraction, e.g. 0.23. */
  maxDrawdown: number;
  /** Longest stretch, in bars, spent below a previous equity peak. */
  maxDrawdownDurationBars: number;
  tradeCount: number;
  winRate: number;
  /** Gross profit / gross loss, capped at PROFIT_FACTOR_CAP; 0 with no profitable trade. */
  profitFactor: number;
  averageTradeReturn: number;
  /** Fraction of bars with a position held through the close. */
  exposure: number;
  finalEquity: number;
}

/** Profit factor with no losing trade would be infinite; JSON and Postgres want finite numbers. */
export const PROFIT_FACTOR_CAP = 1000;

export interface MetricInputs {
  bars: number;
  initialCapital: number;
  finalEquity: number;
  elapsedMs: number;
  msPerYear: number;
  barsPerYear: number;
  sumReturn: number;
  sumReturnSq: number;
  sumDownsideSq: number;
  maxDrawdown: number;
  maxDrawdownDurationBars: number;
  barsInMarket: number;
  tradeCount: number;
  wins: number;
  grossProfit: number;
  grossLoss: number;
  sumTradeReturn: number;
}

export function computeMetrics(m: MetricInputs): BacktestMetrics {
  const nReturns = m.bars - 1;
  const mean = nReturns > 0 ? m.sumReturn / nReturns : 0;
  // Sum-of-squares variance: returns' mean is tiny next to their spread, so cancellation is
  // negligible; clamp the rounding residue of a zero-variance series to exactly 0.
  const variance = nReturns > 1 ? Math.max(0, (m.sumReturnSq - m.sumReturn * mean) / (nReturns - 1)) : 0;
  const std = Math.sqrt(variance);
  const downsideDev = nReturns > 0 ? Math.sqrt(m.sumDownsideSq / nReturns) : 0;
  const annualiser = Math.sqrt(m.barsPerYear);

  const growth = m.finalEquity / m.initialCapital;
  const years = m.elapsedMs / m.msPerYear;
  let cagr: number;
  if (growth <= 0) cagr = -1;
  else if (years <= 0) cagr = 0;
  else {
    cagr = Math.pow(growth, 1 / years) - 1;
    // Annualising a big move over minutes overflows; saturate rather than fail a valid run.
    if (cagr === Infinity) cagr = Number.MAX_VALUE;
  }

  let profitFactor: number;
  if (m.grossLoss > 0) profitFactor = Math.min(m.grossProfit / m.grossLoss, PROFIT_FACTOR_CAP);
  else profitFactor = m.grossProfit > 0 ? PROFIT_FACTOR_CAP : 0;

  const metrics: BacktestMetrics = {
    totalReturn: growth - 1,
    cagr,
    annualizedVolatility: std * annualiser,
    sharpe: std > 0 ? (mean / std) * annualiser : 0,
    sortino: downsideDev > 0 ? (mean / downsideDev) * annualiser : 0,
    maxDrawdown: m.maxDrawdown,
    maxDrawdownDurationBars: m.maxDrawdownDurationBars,
    tradeCount: m.tradeCount,
    winRate: m.tradeCount > 0 ? m.wins / m.tradeCount : 0,
    profitFactor,
    averageTradeReturn: m.tradeCount > 0 ? m.sumTradeReturn / m.tradeCount : 0,
    exposure: m.bars > 0 ? m.barsInMarket / m.bars : 0,
    finalEquity: m.finalEquity,
  };
  assertFiniteMetrics(metrics);
  return metrics;
}

/** Fail fast on bad numbers: a NaN in a result would silently poison rankings and read models. */
export function assertFiniteMetrics(metrics: BacktestMetrics): void {
  for (const [name, value] of Object.entries(metrics) as [string, number][]) {
    if (!Number.isFinite(value)) {
      throw new EngineError(ENGINE_ERROR_CODES.INVALID_NUMBERS, `metric ${name} is ${value}; the bars or the strategy produced invalid numbers`);
    }
  }
}
