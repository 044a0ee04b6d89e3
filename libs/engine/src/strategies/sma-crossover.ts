import type { Bars } from '../bars';
import { StrategyParamError } from '../errors';
import { num, type Params, type StrategyDefinition, type StrategyKernel } from './strategy';

/**
 * Long while SMA(fast) > SMA(slow), otherwise short (flat when shorting is off). Flat during the
 * warm-up (the first slow - 1 bars). SMAs are running sums: O(1) per bar, reading the value that
 * leaves the window straight from the close column, so no ring buffer is needed.
 */
class SmaCrossoverKernel implements StrategyKernel {
  private fastSum = 0;
  private slowSum = 0;
  private last = 0;

  constructor(
    private readonly close: Float64Array,
    private readonly fast: number,
    private readonly slow: number,
  ) {}

  run(from: number, to: number, out: Int32Array): number {
    const close = this.close;
    const fast = this.fast;
    const slow = this.slow;
    let fastSum = this.fastSum;
    let slowSum = this.slowSum;
    let last = this.last;
    let n = 0;
    let i = from;
    // Warm-up split off so the steady-state loop has no window-fill branches.
    const warmEnd = to < slow ? to : slow > from ? slow : from;
    for (; i < warmEnd; i++) {
      const c = close[i] as number;
      fastSum += c;
      if (i >= fast) fastSum -= close[i - fast] as number;
      slowSum += c;
      const d = i + 1 < slow ? 0 : fastSum * slow > slowSum * fast ? 1 : -1;
      if (d !== last) {
        out[n++] = i;
        out[n++] = d;
        last = d;
      }
    }
    for (; i < to; i++) {
      const c = close[i] as number;
      fastSum += c - (close[i - fast] as number);
      slowSum += c - (close[i - slow] as number);
      // fastSum/fast > slowSum/slow, cross-multiplied: divisions would dominate this loop.
      const d = fastSum * slow > slowSum * fast ? 1 : -1;
      if (d !== last) {
        out[n++] = i;
        out[n++] = d;
        last = d;
      }
    }
    this.fastSum = fastSum;
    this.slowSum = slowSum;
    this.last = last;
    return n;
  }
}

export const smaCrossover: StrategyDefinition = {
  info: {
    name: 'sma-crossover',
    description: 'Long while the fast simple moving average of closes is above the slow one; short (or flat when long-only) otherwise.',
    params: [
      { name: 'fast', type: 'integer', min: 1, max: 1000, default: 10, description: 'Fast SMA length in bars.' },
      { name: 'slow', type: 'integer', min: 2, max: 5000, default: 30, description: 'Slow SMA length in bars; must exceed fast.' },
    ],
  },
  check: (params: Params) => assertFastBelowSlow(params),
  firstSignal: (params: Params) => ({ bar: num(params, 'slow') - 1, param: 'slow' }),
  createKernel: (params: Params, bars: Bars) => new SmaCrossoverKernel(bars.close, num(params, 'fast'), num(params, 'slow')),
};

/** Shared by both crossovers: equal or inverted lengths make the crossover meaningless. */
export function assertFastBelowSlow(params: Params): void {
  const fast = num(params, 'fast');
  const slow = num(params, 'slow');
  if (!(fast < slow)) {
    throw new StrategyParamError('params.fast', `fast (${fast}) must be less than slow (${slow})`);
  }
}
