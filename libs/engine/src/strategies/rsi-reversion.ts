import type { Bars } from '../bars';
import { StrategyParamError } from '../errors';
import { num, type Params, type StrategyDefinition, type StrategyKernel } from './strategy';

/**
 * Mean reversion on Wilder's RSI: go long when RSI < oversold, go short (flat when long-only) when
 * RSI > overbought, otherwise keep the previous decision. RSI is defined from bar `period` on
 * (it needs `period` close-to-close changes); before that the signal is flat.
 */
class RsiReversionKernel implements StrategyKernel {
  private avgGain = 0;
  private avgLoss = 0;
  private hold = 0;

  constructor(
    private readonly close: Float64Array,
    private readonly period: number,
    private readonly oversold: number,
    private readonly overbought: number,
  ) {}

  run(from: number, to: number, out: Int32Array): number {
    const close = this.close;
    const period = this.period;
    const oversold = this.oversold;
    const overbought = this.overbought;
    const keep = (period - 1) / period;
    const inv = 1 / period;
    let avgGain = this.avgGain;
    let avgLoss = this.avgLoss;
    let hold = this.hold;
    let n = 0;
    // Start after bar 0 (no change to measure) and the seeding window, where the decision is flat.
    for (let i = from > 0 ? from : 1; i < to; i++) {
      const change = (close[i] as number) - (close[i - 1] as number);
      const gain = change > 0 ? change : 0;
      const loss = change < 0 ? -change : 0;
      if (i <= period) {
        // Seed: simple average of the first `period` changes (accumulated as sums first).
        avgGain += gain;
        avgLoss += loss;
        if (i < period) continue;
        avgGain *= inv;
        avgLoss *= inv;
      } else {
        avgGain = avgGain * keep + gain * inv;
        avgLoss = avgLoss * keep + loss * inv;
      }
      // RSI = 100 - 100 / (1 + gain/loss); with no losses RSI is 100 (50 on a flat market).
      const rsi = avgLoss === 0 ? (avgGain === 0 ? 50 : 100) : 100 - 100 / (1 + avgGain / avgLoss);
      let d = hold;
      if (rsi < oversold) d = 1;
      else if (rsi > overbought) d = -1;
      if (d !== hold) {
        out[n++] = i;
        out[n++] = d;
        hold = d;
      }
    }
    this.avgGain = avgGain;
    this.avgLoss = avgLoss;
    this.hold = hold;
    return n;
  }
}

export const rsiReversion: StrategyDefinition = {
  info: {
    name: 'rsi-reversion',
    description:
      "Buys when Wilder's RSI falls below oversold and sells (or shorts) when it rises above overbought; holds in between.",
    params: [
      { name: 'period', type: 'integer', min: 2, max: 500, default: 14, description: 'RSI lookback in bars.' },
      { name: 'oversold', type: 'number', min: 1, max: 50, default: 30, description: 'Go long below this RSI level.' },
      { name: 'overbought', type: 'number', min: 50, max: 99, default: 70, description: 'Exit long (or go short) above this RSI level.' },
    ],
  },
  check: (params: Params) => {
    const oversold = num(params, 'oversold');
    const overbought = num(params, 'overbought');
    if (!(oversold < overbought)) {
      throw new StrategyParamError('params.oversold', `oversold (${oversold}) must be less than overbought (${overbought})`);
    }
  },
  // RSI exists from bar `period` on (it needs `period` close-to-close changes).
  firstSignal: (params: Params) => ({ bar: num(params, 'period'), param: 'period' }),
  createKernel: (params: Params, bars: Bars) =>
    new RsiReversionKernel(bars.close, num(params, 'period'), num(params, 'oversold'), num(params, 'overbought')),
};
