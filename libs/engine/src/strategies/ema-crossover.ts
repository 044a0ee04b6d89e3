import type { Bars } from '../bars';
import { assertFastBelowSlow } from './sma-crossover';
import { num, type Params, type StrategyDefinition, type StrategyKernel } from './strategy';

/**
 * Long while EMA(fast) > EMA(slow), otherwise short (flat when long-only). Both EMAs start at the
 * first close (alpha = 2 / (n + 1)); signals stay flat for the first slow - 1 bars so the slow
 * EMA has seen a full window before it is trusted.
 */
class EmaCrossoverKernel implements StrategyKernel {
  private fastEma = 0;
  private slowEma = 0;
  private last = 0;
  private readonly fastAlpha: number;
  private readonly slowAlpha: number;

  constructor(
    private readonly close: Float64Array,
    fast: number,
    private readonly slow: number,
  ) {
    this.fastAlpha = 2 / (fast + 1);
    this.slowAlpha = 2 / (slow + 1);
  }

  run(from: number, to: number, out: Int32Array): number {
    const close = this.close;
    const fa = this.fastAlpha;
    const sa = this.slowAlpha;
    const slow = this.slow;
    let fastEma = this.fastEma;
    let slowEma = this.slowEma;
    let last = this.last;
    let n = 0;
    let i = from;
    if (i === 0 && to > 0) {
      // Seed both EMAs with the first close; slow >= 2, so bar 0 is always in the warm-up.
      fastEma = slowEma = close[0] as number;
      i = 1;
    }
    for (; i < to; i++) {
      const c = close[i] as number;
      fastEma += fa * (c - fastEma);
      slowEma += sa * (c - slowEma);
      const d = i + 1 < slow ? 0 : fastEma > slowEma ? 1 : -1;
      if (d !== last) {
        out[n++] = i;
        out[n++] = d;
        last = d;
      }
    }
    this.fastEma = fastEma;
    this.slowEma = slowEma;
    this.last = last;
    return n;
  }
}

export const emaCrossover: StrategyDefinition = {
  info: {
    name: 'ema-crossover',
    description: 'Long while the fast exponential moving average of closes is above the slow one; short (or flat when long-only) otherwise.',
    params: [
      { name: 'fast', type: 'integer', min: 1, max: 1000, default: 12, description: 'Fast EMA length in bars (alpha = 2/(fast+1)).' },
      { name: 'slow', type: 'integer', min: 2, max: 5000, default: 26, description: 'Slow EMA length in bars; must exceed fast.' },
    ],
  },
  check: (params: Params) => assertFastBelowSlow(params),
  firstSignal: (params: Params) => ({ bar: num(params, 'slow') - 1, param: 'slow' }),
  createKernel: (params: Params, bars: Bars) => new EmaCrossoverKernel(bars.close, num(params, 'fast'), num(params, 'slow')),
};
