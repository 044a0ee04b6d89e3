import { Backtest, barsFromColumns, runBacktest, type BacktestConfig, type Bars } from '@runforge/engine';
import { errorFingerprint } from './trials';

/** Bars from closes (open = previous close), hourly. */
function bars(closes: readonly number[]): Bars {
  const open = closes.map((c, i) => (i === 0 ? c : (closes[i - 1] as number)));
  return barsFromColumns({
    timeframe: '1h',
    time: closes.map((_, i) => Date.UTC(2024, 0, 1) + i * 3_600_000),
    open,
    close: [...closes],
    high: closes.map((c, i) => Math.max(c, open[i] as number)),
    low: closes.map((c, i) => Math.min(c, open[i] as number)),
    volume: closes.map(() => 1),
  });
}

/** What a trial's failure looks like run in one call (most trials of a batch). */
function inOneCall(b: Bars, config: BacktestConfig): Error {
  try {
    runBacktest(b, config);
  } catch (err) {
    return err as Error;
  }
  throw new Error('expected the backtest to fail');
}

/** …and run stepped (a batch's first trial, or one too long for a time slice), as the worker does. */
function stepped(b: Bars, config: BacktestConfig): Error {
  try {
    const bt = new Backtest(b, config);
    while (!bt.done) bt.step(7);
    bt.result();
  } catch (err) {
    return err as Error;
  }
  throw new Error('expected the backtest to fail');
}

const fingerprintOf = (e: Error): string => errorFingerprint(e.message, e.stack).fingerprint;
const calm = Array.from({ length: 300 }, (_, i) => 100 + 10 * Math.sin(i / 15));
// Prices swinging 1 ↔ 1e200 once in the market: returns too large to square, NaN metrics.
const wild = [...calm, ...Array.from({ length: 20 }, (_, i) => (i % 2 ? 1e200 : 1))];

describe('errorFingerprint: failed trials grouped by cause', () => {
  it.each([
    ['a warm-up longer than the dataset', bars(calm), { strategy: 'sma-crossover', params: { fast: 5, slow: 400 } }],
    ['invalid numbers', bars(wild), { strategy: 'sma-crossover', params: { fast: 2, slow: 20 } }],
    ['fast >= slow', bars(calm), { strategy: 'sma-crossover', params: { fast: 40, slow: 20 } }],
  ] as const)('gives %s the same fingerprint whether its trial ran in one call or stepped', (_name, b, config) => {
    const a = inOneCall(b, config);
    const s = stepped(b, config);
    expect(s.message).toBe(a.message);
    expect(fingerprintOf(s)).toBe(fingerprintOf(a));
  });

  it('tells different causes apart, and the same cause with other numbers together', () => {
    const warmup = fingerprintOf(inOneCall(bars(calm), { strategy: 'sma-crossover', params: { fast: 5, slow: 400 } }));
    const otherWarmup = fingerprintOf(
      inOneCall(bars(calm), { strategy: 'sma-crossover', params: { fast: 9, slow: 350 } }),
    );
    const order = fingerprintOf(inOneCall(bars(calm), { strategy: 'sma-crossover', params: { fast: 40, slow: 20 } }));
    expect(otherWarmup).toBe(warmup);
    expect(order).not.toBe(warmup);
  });
});
