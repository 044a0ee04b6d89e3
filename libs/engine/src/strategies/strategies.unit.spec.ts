import fc from 'fast-check';
import { generateSyntheticBars, type Bars, type Params } from '../index';
import { getStrategyDefinition } from './registry';
import { RollingExtreme } from './rolling-extreme';

/** The decision on every bar's close, from a kernel run in chunks of `chunk` bars. */
function signals(name: string, params: Params, bars: Bars, chunk = 4096): number[] {
  const def = getStrategyDefinition(name);
  if (def === undefined) throw new Error(name);
  const kernel = def.createKernel(params, bars);
  const out = new Int32Array(2 * chunk);
  const all: number[] = [];
  let decision = 0;
  for (let from = 0; from < bars.length; from += chunk) {
    const to = Math.min(bars.length, from + chunk);
    const n = kernel.run(from, to, out);
    // Expand the sparse (bar, decision) changes into one decision per bar.
    let k = 0;
    for (let i = from; i < to; i++) {
      if (k < n && out[k] === i) {
        expect(out[k + 1]).not.toBe(decision); // only real changes are reported
        decision = out[k + 1] as number;
        k += 2;
      }
      all.push(decision);
    }
    expect(k).toBe(n);
  }
  return all;
}

const mean = (xs: Float64Array, from: number, to: number): number => {
  let s = 0;
  for (let i = from; i < to; i++) s += xs[i] as number;
  return s / (to - from);
};

// Straightforward O(n·window) reference implementations of each rule.
const reference = {
  sma(b: Bars, fast: number, slow: number): number[] {
    return Array.from(b.close, (_, i) => (i + 1 < slow ? 0 : mean(b.close, i + 1 - fast, i + 1) > mean(b.close, i + 1 - slow, i + 1) ? 1 : -1));
  },
  ema(b: Bars, fast: number, slow: number): number[] {
    let f = b.close[0] as number;
    let s = f;
    return Array.from(b.close, (c, i) => {
      if (i > 0) {
        f += (2 / (fast + 1)) * (c - f);
        s += (2 / (slow + 1)) * (c - s);
      }
      return i + 1 < slow ? 0 : f > s ? 1 : -1;
    });
  },
  rsi(b: Bars, period: number, oversold: number, overbought: number): number[] {
    const out: number[] = [];
    let g = 0;
    let l = 0;
    let hold = 0;
    for (let i = 0; i < b.length; i++) {
      if (i === 0) {
        out.push(0);
        continue;
      }
      const ch = (b.close[i] as number) - (b.close[i - 1] as number);
      if (i <= period) {
        g += Math.max(ch, 0);
        l += Math.max(-ch, 0);
        if (i < period) {
          out.push(0);
          continue;
        }
        g /= period;
        l /= period;
      } else {
        g = (g * (period - 1)) / period + Math.max(ch, 0) / period;
        l = (l * (period - 1)) / period + Math.max(-ch, 0) / period;
      }
      const rsi = l === 0 ? (g === 0 ? 50 : 100) : 100 - 100 / (1 + g / l);
      if (rsi < oversold) hold = 1;
      else if (rsi > overbought) hold = -1;
      out.push(hold);
    }
    return out;
  },
  donchian(b: Bars, period: number, exitPeriod: number): number[] {
    const out: number[] = [];
    let hold = 0;
    const hi = (n: number, i: number): number => Math.max(...b.high.subarray(i - n, i));
    const lo = (n: number, i: number): number => Math.min(...b.low.subarray(i - n, i));
    for (let i = 0; i < b.length; i++) {
      if (i < Math.max(period, exitPeriod)) {
        out.push(0);
        continue;
      }
      const c = b.close[i] as number;
      if (c > hi(period, i)) hold = 1;
      else if (c < lo(period, i)) hold = -1;
      else if (hold === 1 && c < lo(exitPeriod, i)) hold = 0;
      else if (hold === -1 && c > hi(exitPeriod, i)) hold = 0;
      out.push(hold);
    }
    return out;
  },
};

const arbBars = fc
  .record({ bars: fc.integer({ min: 1, max: 400 }), seed: fc.integer(), regimes: fc.boolean(), volatility: fc.double({ min: 0.05, max: 2, noNaN: true }) })
  .map((s) => generateSyntheticBars({ ...s, timeframe: '1h' }));
const chunk = fc.integer({ min: 1, max: 64 });

describe('strategy kernels equal straightforward reference implementations, in any chunking', () => {
  it('sma-crossover', () => {
    fc.assert(
      fc.property(arbBars, fc.integer({ min: 1, max: 15 }), fc.integer({ min: 1, max: 40 }), chunk, (b, fast, extra, ch) => {
        expect(signals('sma-crossover', { fast, slow: fast + extra }, b, ch)).toEqual(reference.sma(b, fast, fast + extra));
      }),
    );
  });

  it('ema-crossover', () => {
    fc.assert(
      fc.property(arbBars, fc.integer({ min: 1, max: 15 }), fc.integer({ min: 1, max: 40 }), chunk, (b, fast, extra, ch) => {
        expect(signals('ema-crossover', { fast, slow: fast + extra }, b, ch)).toEqual(reference.ema(b, fast, fast + extra));
      }),
    );
  });

  it('rsi-reversion', () => {
    fc.assert(
      fc.property(arbBars, fc.integer({ min: 2, max: 30 }), fc.integer({ min: 5, max: 45 }), fc.integer({ min: 55, max: 95 }), chunk, (b, period, os, ob, ch) => {
        expect(signals('rsi-reversion', { period, oversold: os, overbought: ob }, b, ch)).toEqual(reference.rsi(b, period, os, ob));
      }),
    );
  });

  it('donchian-breakout', () => {
    fc.assert(
      fc.property(arbBars, fc.integer({ min: 2, max: 30 }), fc.integer({ min: 1, max: 30 }), chunk, (b, period, exitPeriod, ch) => {
        expect(signals('donchian-breakout', { period, exitPeriod }, b, ch)).toEqual(reference.donchian(b, period, exitPeriod));
      }),
    );
  });

  it('buy-and-hold is always long', () => {
    const b = generateSyntheticBars({ bars: 50, seed: 1, timeframe: '1d' });
    expect(signals('buy-and-hold', {}, b, 7)).toEqual(Array.from({ length: 50 }, () => 1));
  });

  it('a kernel reads nothing beyond the bar it decides on', () => {
    // Poison every bar after i with NaN: the decision at i must not change.
    const b = generateSyntheticBars({ bars: 300, seed: 4, timeframe: '1h' });
    const cases: [string, Params][] = [
      ['sma-crossover', { fast: 5, slow: 20 }],
      ['ema-crossover', { fast: 5, slow: 20 }],
      ['rsi-reversion', { period: 7, oversold: 30, overbought: 70 }],
      ['donchian-breakout', { period: 10, exitPeriod: 5 }],
    ];
    for (const [name, params] of cases) {
      const full = signals(name, params, b);
      for (const i of [25, 100, 299]) {
        const poison = (col: Float64Array): Float64Array => col.map((v, j) => (j > i ? Number.NaN : v));
        const cut: Bars = { ...b, open: poison(b.open), high: poison(b.high), low: poison(b.low), close: poison(b.close) };
        expect(signals(name, params, cut).slice(0, i + 1)).toEqual(full.slice(0, i + 1));
      }
    }
  });
});

describe('RollingExtreme', () => {
  it('equals a naive max/min over the last `window` pushed values, partial windows included', () => {
    fc.assert(
      fc.property(fc.array(fc.double({ min: -1e6, max: 1e6, noNaN: true }), { minLength: 1, maxLength: 200 }), fc.integer({ min: 1, max: 30 }), (xs, window) => {
        const values = Float64Array.from(xs);
        const max = new RollingExtreme(values, window, true);
        const min = new RollingExtreme(values, window, false);
        for (let i = 0; i < xs.length; i++) {
          max.push(i);
          min.push(i);
          const slice = xs.slice(Math.max(0, i - window + 1), i + 1);
          // `===`, not Object.is: the engine does not distinguish -0 from 0.
          expect(max.value() === Math.max(...slice)).toBe(true);
          expect(min.value() === Math.min(...slice)).toBe(true);
        }
      }),
    );
  });
});
