import type { Bars } from '../bars';
import { RollingExtreme } from './rolling-extreme';
import { num, type Params, type StrategyDefinition, type StrategyKernel } from './strategy';

/**
 * Channel breakout (turtle style). Channels are built from the bars *before* the current one, so
 * a close can break out of them:
 * - close > highest high of the previous `period` bars → long;
 * - close < lowest low of the previous `period` bars → short (flat when long-only);
 * - a long exits (flat) when close < lowest low of the previous `exitPeriod` bars,
 *   a short when close > highest high of the previous `exitPeriod` bars;
 * - otherwise the previous decision holds. Flat until max(period, exitPeriod) bars of history exist.
 */
class DonchianBreakoutKernel implements StrategyKernel {
  private readonly entryHigh: RollingExtreme;
  private readonly entryLow: RollingExtreme;
  private readonly exitHigh: RollingExtreme;
  private readonly exitLow: RollingExtreme;
  private readonly warmup: number;
  private hold = 0;

  private readonly close: Float64Array;

  constructor(bars: Bars, period: number, exitPeriod: number) {
    this.close = bars.close;
    this.entryHigh = new RollingExtreme(bars.high, period, true);
    this.entryLow = new RollingExtreme(bars.low, period, false);
    this.exitHigh = new RollingExtreme(bars.high, exitPeriod, true);
    this.exitLow = new RollingExtreme(bars.low, exitPeriod, false);
    this.warmup = Math.max(period, exitPeriod);
  }

  run(from: number, to: number, out: Int32Array): number {
    const close = this.close;
    const entryHigh = this.entryHigh;
    const entryLow = this.entryLow;
    const exitHigh = this.exitHigh;
    const exitLow = this.exitLow;
    const warmup = this.warmup;
    let hold = this.hold;
    let n = 0;
    for (let i = from; i < to; i++) {
      if (i > 0) {
        // Channels over [.., i - 1]: the current bar is pushed only after it has been judged.
        entryHigh.push(i - 1);
        entryLow.push(i - 1);
        exitHigh.push(i - 1);
        exitLow.push(i - 1);
      }
      if (i < warmup) continue;
      const c = close[i] as number;
      // Read all four channels up front: lazily inside the else-if chain, rarely taken branches
      // reach V8 without type feedback and deoptimise the loop again and again.
      const upper = entryHigh.value();
      const lower = entryLow.value();
      const exitLower = exitLow.value();
      const exitUpper = exitHigh.value();
      let d = hold;
      if (c > upper) d = 1;
      else if (c < lower) d = -1;
      else if (hold === 1 && c < exitLower) d = 0;
      else if (hold === -1 && c > exitUpper) d = 0;
      if (d !== hold) {
        out[n++] = i;
        out[n++] = d;
        hold = d;
      }
    }
    this.hold = hold;
    return n;
  }
}

export const donchianBreakout: StrategyDefinition = {
  info: {
    name: 'donchian-breakout',
    description:
      'Long on a close above the highest high of the last `period` bars, short (or flat) on a close below the lowest low; exits on the opposite `exitPeriod` channel.',
    params: [
      { name: 'period', type: 'integer', min: 2, max: 1000, default: 20, description: 'Entry channel length in bars.' },
      { name: 'exitPeriod', type: 'integer', min: 1, max: 1000, default: 10, description: 'Exit channel length in bars.' },
    ],
  },
  check: () => undefined,
  firstSignal: (params: Params) => {
    const period = num(params, 'period');
    const exitPeriod = num(params, 'exitPeriod');
    return period >= exitPeriod ? { bar: period, param: 'period' } : { bar: exitPeriod, param: 'exitPeriod' };
  },
  createKernel: (params: Params, bars: Bars) => new DonchianBreakoutKernel(bars, num(params, 'period'), num(params, 'exitPeriod')),
};
