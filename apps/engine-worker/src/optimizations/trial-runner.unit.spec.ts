import { OptimizationRequestSchema } from '@runforge/contracts';
import { barsFromColumns, EngineError, generateSyntheticBars, runBacktest, StrategyParamError } from '@runforge/engine';
import { TimeSlice } from '../runs/time-slice';
import { TrialAbortedError, TrialRunner } from './trial-runner';

const bars = generateSyntheticBars({ bars: 200_000, seed: 7, timeframe: '1m' });
const request = OptimizationRequestSchema.parse({
  strategy: 'sma-crossover',
  axes: { fast: [5, 10, 20], slow: [50, 100] },
  dataset: { synthetic: { bars: 200_000, seed: 7, timeframe: '1m' } },
  commissionBps: 2,
});
const live = (): AbortSignal => new AbortController().signal;
const direct = (fast: number, slow: number) =>
  runBacktest(bars, {
    strategy: 'sma-crossover',
    params: { fast, slow },
    initialCapital: request.initialCapital,
    commissionBps: request.commissionBps,
    slippageBps: request.slippageBps,
    positionFraction: request.positionFraction,
    allowShort: request.allowShort,
  }).metrics;

describe('TrialRunner', () => {
  it('gives the metrics of a direct engine run, whether a trial runs stepped (first) or in one call (later)', async () => {
    const runner = new TrialRunner();
    for (const [fast, slow] of [
      [5, 50],
      [10, 100],
      [20, 50],
      [5, 100],
    ] as const) {
      await expect(runner.run(request, { fast, slow }, bars, live())).resolves.toEqual(direct(fast, slow));
      await runner.yieldIfDue();
    }
  });

  it('yields between slices of a long trial, and a stop heard there aborts the trial', async () => {
    // A zero-length slice: the trial returns to the event loop after every step of bars.
    const runner = new TrialRunner(new TimeSlice(0));
    const controller = new AbortController();
    setImmediate(() => controller.abort());
    await expect(runner.run(request, { fast: 5, slow: 50 }, bars, controller.signal)).rejects.toBeInstanceOf(
      TrialAbortedError,
    );
  });

  it('runs no trial once stopped', async () => {
    const controller = new AbortController();
    controller.abort();
    await expect(new TrialRunner().run(request, { fast: 5, slow: 50 }, bars, controller.signal)).rejects.toBeInstanceOf(
      TrialAbortedError,
    );
  });

  it("throws the engine's error for a combination the strategy rejects, and the next trial still runs", async () => {
    const runner = new TrialRunner();
    await expect(runner.run(request, { fast: 50, slow: 50 }, bars, live())).rejects.toBeInstanceOf(StrategyParamError);
    await expect(runner.run(request, { fast: 10, slow: 50 }, bars, live())).resolves.toEqual(direct(10, 50));
  });
  it('throws for a trial whose numbers are not numbers (a return too large to square), and the next trial still runs', async () => {
    // Valid bars whose price swings 1 ↔ 1e200 every bar: each return squared overflows, so the
    // volatility (and Sharpe) of any strategy in the market is NaN.
    const close = Array.from({ length: 50 }, (_, i) => (i % 2 ? 1e200 : 1));
    const wild = barsFromColumns({
      timeframe: '1h',
      time: close.map((_, i) => Date.UTC(2022, 0, 1) + i * 3_600_000),
      open: close,
      high: close,
      low: close,
      close,
      volume: close.map(() => 1),
    });
    const runner = new TrialRunner();
    const failure = runner.run({ ...request, strategy: 'buy-and-hold' }, {}, wild, live());
    await expect(failure).rejects.toBeInstanceOf(EngineError);
    await expect(failure).rejects.toMatchObject({ code: 'INVALID_NUMBERS', message: expect.stringMatching(/is NaN/) });
    await expect(runner.run(request, { fast: 10, slow: 50 }, bars, live())).resolves.toEqual(direct(10, 50));
  });
});

describe('TimeSlice', () => {
  it('is due once its time is used, and a yield starts a new slice', async () => {
    // A clock the test moves: the slice's own, so a pause of the machine cannot make it due.
    let clock = 1_000;
    const slice = new TimeSlice(5, () => clock);
    expect(slice.due).toBe(false);
    clock += 4.9;
    expect(slice.due).toBe(false);
    clock += 0.1;
    expect(slice.due).toBe(true);
    await slice.yieldIfDue();
    expect(slice.due).toBe(false);
    expect(slice.deadline).toBe(clock + 5);
  });
});
