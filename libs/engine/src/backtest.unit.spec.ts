import { barsFromCloses } from '../test/helpers';
import {
  Backtest,
  BacktestAbortedError,
  barsFromColumns,
  EngineError,
  generateSyntheticBars,
  runBacktest,
  StrategyParamError,
  validateBacktestConfig,
  type BacktestConfig,
  type Bars,
  type Params,
} from './index';

const synthetic = (bars: number, seed = 1): Bars => generateSyntheticBars({ bars, seed, timeframe: '1m' });

describe('runBacktest hooks', () => {
  it('throws BacktestAbortedError with processedBars 0 when the signal is already aborted', () => {
    const controller = new AbortController();
    controller.abort(new Error('user cancelled'));
    let caught: unknown;
    try {
      runBacktest(synthetic(10_000), { strategy: 'sma-crossover', params: {} }, { signal: controller.signal });
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(BacktestAbortedError);
    expect(caught).toMatchObject({ code: 'ABORTED', processedBars: 0 });
    expect((caught as Error).cause).toEqual(new Error('user cancelled'));
  });

  it('stops at the next check after an abort, with processedBars a multiple of checkEvery', () => {
    const controller = new AbortController();
    const checkEvery = 1000;
    const seen: number[] = [];
    const run = (): unknown =>
      runBacktest(
        synthetic(50_000),
        { strategy: 'ema-crossover', params: {} },
        {
          signal: controller.signal,
          checkEvery,
          onProgress: (processed) => {
            seen.push(processed);
            if (processed >= 3500) controller.abort();
          },
        },
      );
    expect(run).toThrow(BacktestAbortedError);
    try {
      run();
    } catch (err) {
      // Second run: the signal is already aborted, so it stops before the first bar.
      expect((err as BacktestAbortedError).processedBars).toBe(0);
    }
    expect(seen).toEqual([1000, 2000, 3000, 4000]);
  });

  it('reports the abort point precisely', () => {
    const controller = new AbortController();
    let error: BacktestAbortedError | undefined;
    try {
      runBacktest(synthetic(20_000), { strategy: 'rsi-reversion', params: {} }, {
        signal: controller.signal,
        checkEvery: 4096,
        onProgress: (p) => p === 8192 && controller.abort(),
      });
    } catch (err) {
      error = err as BacktestAbortedError;
    }
    expect(error?.processedBars).toBe(8192);
    expect((error?.processedBars ?? 1) % 4096).toBe(0);
  });

  it('calls onProgress with strictly increasing counts ending at the total', () => {
    const calls: [number, number][] = [];
    runBacktest(synthetic(10_000), { strategy: 'sma-crossover', params: {} }, { checkEvery: 3000, onProgress: (p, t) => calls.push([p, t]) });
    expect(calls).toEqual([
      [3000, 10_000],
      [6000, 10_000],
      [9000, 10_000],
      [10_000, 10_000],
    ]);
  });

  it('ends progress at the total exactly once when the total is a multiple of checkEvery', () => {
    const calls: number[] = [];
    runBacktest(synthetic(8192), { strategy: 'sma-crossover', params: {} }, { onProgress: (p) => calls.push(p) });
    expect(calls).toEqual([4096, 8192]);
  });

  it('rejects a non-positive checkEvery', () => {
    expect(() => runBacktest(synthetic(10), { strategy: 'buy-and-hold', params: {} }, { checkEvery: 0 })).toThrow(EngineError);
  });
});

describe('Backtest stepping', () => {
  it('steps in chunks and reports progress fields', () => {
    const bt = new Backtest(synthetic(10_000), { strategy: 'donchian-breakout', params: {} });
    expect(bt.totalBars).toBe(10_000);
    expect(bt.processedBars).toBe(0);
    expect(bt.step(6000)).toBe(6000);
    expect(bt.done).toBe(false);
    expect(() => bt.result()).toThrow(expect.objectContaining({ code: 'NOT_DONE' }) as Error);
    expect(bt.step(6000)).toBe(10_000);
    expect(bt.done).toBe(true);
    expect(bt.result().bars).toBe(10_000);
    expect(bt.result()).toBe(bt.result()); // computed once
  });

  it('validates params in the constructor (cross-parameter rule → StrategyParamError)', () => {
    const make = (): Backtest => new Backtest(synthetic(100), { strategy: 'sma-crossover', params: { fast: 30, slow: 10 } });
    expect(make).toThrow(StrategyParamError);
    expect(make).toThrow('fast (30) must be less than slow (10)');
    try {
      make();
    } catch (err) {
      expect(err).toMatchObject({ code: 'STRATEGY_PARAMS_INVALID', field: 'params.fast' });
      expect((err as Error).stack).toContain('StrategyParamError');
    }
  });

  it('validates per-parameter rules in the constructor', () => {
    expect(() => new Backtest(synthetic(100), { strategy: 'sma-crossover', params: { fast: 0 } })).toThrow(
      expect.objectContaining({ field: 'params.fast', message: 'params.fast must be an integer between 1 and 1000' }) as Error,
    );
    expect(() => new Backtest(synthetic(100), { strategy: 'nope', params: {} })).toThrow(expect.objectContaining({ field: 'strategy' }) as Error);
  });

  it('rejects an invalid config and empty bars', () => {
    expect(() => new Backtest(synthetic(100), { strategy: 'buy-and-hold', params: {}, positionFraction: 1.5 })).toThrow(
      expect.objectContaining({ code: 'CONFIG_INVALID' }) as Error,
    );
    const empty = barsFromColumns({ timeframe: '1m', time: [], open: [], high: [], low: [], close: [] });
    expect(() => new Backtest(empty, { strategy: 'buy-and-hold', params: {} })).toThrow(expect.objectContaining({ code: 'NO_BARS' }) as Error);
  });

  it('validateBacktestConfig names every bad field', () => {
    expect(validateBacktestConfig({ initialCapital: -1, commissionBps: Number.NaN, slippageBps: -2, positionFraction: 0 })).toEqual([
      { field: 'initialCapital', reason: 'must be a number > 0' },
      { field: 'commissionBps', reason: 'must be a number >= 0 and < 10000' },
      { field: 'slippageBps', reason: 'must be a number >= 0 and < 10000' },
      { field: 'positionFraction', reason: 'must be a number > 0 and <= 1' },
    ]);
    expect(validateBacktestConfig({})).toEqual([]);
  });
});

describe('execution model', () => {
  it('never looks ahead: changing bars after index k changes nothing up to k', () => {
    const bars = generateSyntheticBars({ bars: 800, seed: 11, timeframe: '1h', regimes: true });
    const k = 400;
    const mutated = barsFromColumns({
      timeframe: bars.timeframe,
      time: bars.time,
      // Everything after bar k is replaced by a wild, different path.
      open: bars.open.map((v, i) => (i > k ? v * (1 + Math.sin(i) * 0.3) : v)),
      high: bars.high.map((v, i) => (i > k ? v * 1.5 : v)),
      low: bars.low.map((v, i) => (i > k ? v * 0.5 : v)),
      close: bars.close.map((v, i) => (i > k ? v * (1 + Math.cos(i) * 0.3) : v)),
      volume: bars.volume,
    });
    for (const strategy of ['sma-crossover', 'ema-crossover', 'rsi-reversion', 'donchian-breakout']) {
      const params: Params = strategy.endsWith('crossover') ? { fast: 5, slow: 20 } : {};
      const config: BacktestConfig = { strategy, params, allowShort: true, recordTrades: true };
      const a = runBacktest(bars, config);
      const b = runBacktest(mutated, config);
      // 800 bars → every bar is on the equity curve.
      expect(b.equityCurve.slice(0, k + 1)).toEqual(a.equityCurve.slice(0, k + 1));
      // Trades entered up to bar k (decided on closes < k) are the same trades.
      const entered = (r: typeof a): number[] => (r.trades ?? []).filter((t) => t.entryBar <= k).map((t) => t.entryBar);
      expect(entered(b)).toEqual(entered(a));
      expect(entered(a).length).toBeGreaterThan(0);
    }
  });

  it('a decision on the last bar never fills', () => {
    // Flat for 29 bars, then the last close jumps: fast SMA crosses above slow on the final bar.
    const closes = [...Array.from({ length: 29 }, () => 100), 120];
    const r = runBacktest(barsFromCloses(closes), { strategy: 'sma-crossover', params: { fast: 2, slow: 5 }, recordTrades: true });
    expect(r.metrics.tradeCount).toBe(0);
    expect(r.metrics.exposure).toBe(0);
    expect(r.metrics.finalEquity).toBe(10_000);
    // One bar more and the same decision fills at that bar's open.
    const r2 = runBacktest(barsFromCloses([...closes, 121]), { strategy: 'sma-crossover', params: { fast: 2, slow: 5 }, recordTrades: true });
    expect(r2.trades?.[0]).toMatchObject({ entryBar: 30, entryPrice: 120, open: true });
  });

  it('applies slippage adversely on both sides and commission on notional', () => {
    const bars = barsFromCloses([100, 100, 110, 120], [100, 100, 105, 118]);
    const r = runBacktest(bars, { strategy: 'buy-and-hold', params: {}, commissionBps: 0, slippageBps: 100, recordTrades: true });
    expect(r.trades?.[0]?.entryPrice).toBeCloseTo(101, 12); // buy at open 100 × 1.01
    const short = runBacktest(bars, { strategy: 'sma-crossover', params: { fast: 1, slow: 2 }, allowShort: true, slippageBps: 100, commissionBps: 0, recordTrades: true });
    // bar 1: 100 = 100 → short decided, filled at bar 2 open 105 × 0.99; bar 2 up → cover at bar 3 open 118 × 1.01
    expect(short.trades?.[0]).toMatchObject({ side: 'short', entryBar: 2, exitBar: 3 });
    expect(short.trades?.[0]?.entryPrice).toBeCloseTo(103.95, 10);
    expect(short.trades?.[0]?.exitPrice).toBeCloseTo(119.18, 10);
  });

  it('sizes positions as a fraction of equity', () => {
    const bars = barsFromCloses([100, 100, 100, 200]);
    const r = runBacktest(bars, { strategy: 'buy-and-hold', params: {}, commissionBps: 0, positionFraction: 0.25 });
    // A quarter of equity doubles: +25%.
    expect(r.metrics.totalReturn).toBeCloseTo(0.25, 12);
  });

  it('liquidates a ruined short and stays flat', () => {
    // Short from bar 2's open at 99 (all-in); bar 3 closes at 300: equity 20000 - 10000/99 × 300 < 0.
    const bars = barsFromCloses([100, 99, 98, 300, 310, 320], [100, 100, 99, 99, 300, 310]);
    const r = runBacktest(bars, { strategy: 'sma-crossover', params: { fast: 1, slow: 2 }, allowShort: true, commissionBps: 0, recordTrades: true });
    expect(r.trades?.[0]).toMatchObject({ side: 'short', entryBar: 2, exitBar: 3, exitPrice: 300 });
    expect(r.metrics.finalEquity).toBeLessThanOrEqual(0);
    expect(r.metrics.tradeCount).toBe(1);
    for (const v of Object.values(r.metrics)) expect(Number.isFinite(v)).toBe(true);
  });

  it('downsamples the equity curve to 1000 points including the first and last bar', () => {
    const bars = synthetic(123_457);
    const r = runBacktest(bars, { strategy: 'buy-and-hold', params: {} });
    expect(r.equityCurve).toHaveLength(1000);
    expect(r.equityCurve[0]).toEqual({ t: bars.time[0], equity: 10_000 });
    expect(r.equityCurve[999]?.t).toBe(bars.time[bars.length - 1]);
    expect(r.equityCurve[999]?.equity).toBe(r.metrics.finalEquity);
    const ts = r.equityCurve.map((p) => p.t);
    expect([...ts].sort((x, y) => x - y)).toEqual(ts);
  });

  it('throws INVALID_NUMBERS instead of returning NaN metrics', () => {
    const bars = barsFromCloses([100, 101, Number.NaN, 103, 104]);
    expect(() => runBacktest(bars, { strategy: 'buy-and-hold', params: {} })).toThrow(expect.objectContaining({ code: 'INVALID_NUMBERS' }) as Error);
  });

  it('refuses a series with no bar to trade on: a single bar, or one inside the warm-up', () => {
    const refusal = (run: () => unknown): Pick<StrategyParamError, 'code' | 'field' | 'message'> | undefined => {
      try {
        run();
        return undefined;
      } catch (err) {
        return err instanceof StrategyParamError ? { code: err.code, field: err.field, message: err.message } : undefined;
      }
    };
    expect(refusal(() => runBacktest(barsFromCloses([100]), { strategy: 'buy-and-hold', params: {} }))).toEqual({
      code: 'STRATEGY_PARAMS_INVALID',
      field: 'dataset',
      message: 'the strategy needs at least 2 bars; the dataset has 1',
    });
    const closes = Array.from({ length: 30 }, (_, i) => 100 + i);
    expect(refusal(() => runBacktest(barsFromCloses(closes), { strategy: 'sma-crossover', params: { fast: 10, slow: 30 } }))).toEqual({
      code: 'STRATEGY_PARAMS_INVALID',
      field: 'params.slow',
      message: "slow (30) needs at least 31 bars (its first signal comes on bar 30's close and fills at the next bar's open); the dataset has 30",
    });
    // One bar more and the first signal fills: a rising series is long from bar 30's close.
    const r = runBacktest(barsFromCloses([...closes, 130]), { strategy: 'sma-crossover', params: { fast: 10, slow: 30 }, recordTrades: true });
    expect(r.trades?.[0]).toMatchObject({ entryBar: 30, open: true });
  });
});

describe('metrics definitions', () => {
  it('computes sharpe, sortino, volatility and drawdown from per-bar returns', () => {
    const closes = [100, 100, 110, 99, 108.9, 119.79, 107.811];
    const bars = barsFromCloses(closes, closes.map((c, i) => (i === 0 ? 100 : (closes[i - 1] as number))));
    const r = runBacktest(bars, { strategy: 'buy-and-hold', params: {}, commissionBps: 0 });
    // In the market from bar 1's open (= bar 0's close, 100): returns are the closes' returns.
    const rets = closes.slice(1).map((c, i) => c / (closes[i] as number) - 1);
    const n = rets.length;
    const mean = rets.reduce((a, b) => a + b, 0) / n;
    const sd = Math.sqrt(rets.reduce((a, b) => a + (b - mean) ** 2, 0) / (n - 1));
    const dd = Math.sqrt(rets.reduce((a, b) => a + Math.min(b, 0) ** 2, 0) / n);
    const perYear = Math.sqrt(365 * 24);
    expect(r.metrics.annualizedVolatility).toBeCloseTo(sd * perYear, 9);
    expect(r.metrics.sharpe).toBeCloseTo((mean / sd) * perYear, 9);
    expect(r.metrics.sortino).toBeCloseTo((mean / dd) * perYear, 9);
    expect(r.metrics.maxDrawdown).toBeCloseTo(0.1, 12); // 110 → 99 and 119.79 → 107.811
    expect(r.metrics.maxDrawdownDurationBars).toBe(2); // bars 3 and 4 below the bar-2 peak
    const years = (6 * 3_600_000) / (365 * 86_400_000);
    expect(r.metrics.cagr).toBeCloseTo((107.811 / 100) ** (1 / years) - 1, 0);
  });
});
