/**
 * Engine throughput benchmark: bars/s per strategy over 10M synthetic 1m bars, single-threaded,
 * against a bare SMA-crossover loop written here (the floor any engine overhead is measured from).
 *
 *   npm run bench:engine          (= npm run build && node bench/dist/engine.bench.js)
 *   BENCH_BARS=2000000 BENCH_RUNS=3 node bench/dist/engine.bench.js
 */
import * as os from 'node:os';
import { generateSyntheticBars, listStrategies, runBacktest, type Bars, type Params } from '@runforge/engine';

const BARS = Number(process.env['BENCH_BARS'] ?? 10_000_000);
const RUNS = Number(process.env['BENCH_RUNS'] ?? 5);
const WARMUP = Number(process.env['BENCH_WARMUP'] ?? 2);
const FAST = 10;
const SLOW = 30;

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 === 1 ? (s[mid] as number) : ((s[mid - 1] as number) + (s[mid] as number)) / 2;
}

/** Median wall time in ms of `fn` over RUNS runs after WARMUP runs (lets the JIT settle). */
function time(fn: () => number): { ms: number; check: number } {
  let check = 0;
  for (let i = 0; i < WARMUP; i++) check += fn();
  const samples: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    const t0 = process.hrtime.bigint();
    check += fn();
    samples.push(Number(process.hrtime.bigint() - t0) / 1e6);
  }
  return { ms: median(samples), check };
}

/**
 * The bare minimum an SMA crossover backtest must do per bar: update two running sums, decide on
 * the close, fill the previous decision at this open (zero costs, all-in), mark equity to the close
 * and track the drawdown. No metrics beyond max drawdown, no chunking, no hooks.
 */
function bareSmaCrossover(bars: Bars, fast: number, slow: number): number {
  const open = bars.open;
  const close = bars.close;
  const n = bars.length;
  let fastSum = 0;
  let slowSum = 0;
  let cash = 10_000;
  let units = 0;
  let pending = 0;
  let peak = cash;
  let maxDd = 0;
  for (let i = 0; i < n; i++) {
    const o = open[i] as number;
    if (pending === 1 && units === 0) {
      units = cash / o;
      cash = 0;
    } else if (pending === 0 && units !== 0) {
      cash = units * o;
      units = 0;
    }
    const c = close[i] as number;
    const equity = cash + units * c;
    if (equity > peak) peak = equity;
    else {
      const dd = (peak - equity) / peak;
      if (dd > maxDd) maxDd = dd;
    }
    fastSum += c;
    slowSum += c;
    if (i >= fast) fastSum -= close[i - fast] as number;
    if (i >= slow) slowSum -= close[i - slow] as number;
    // Same cross-multiplied comparison as the engine kernel (fastSum/fast > slowSum/slow).
    pending = i + 1 >= slow && fastSum * slow > slowSum * fast ? 1 : 0;
  }
  return cash + units * (close[n - 1] as number) + maxDd;
}

function main(): void {
  const cpus = os.cpus();
  console.log(`machine: ${cpus[0]?.model ?? 'unknown CPU'}, ${cpus.length} cores, ${os.platform()} ${os.arch()}`);
  console.log(`node: ${process.version}`);
  console.log(
    `bars: ${BARS.toLocaleString('en-US')} synthetic 1m, runs: median of ${RUNS} after ${WARMUP} warm-up, single-threaded`,
  );

  const t0 = process.hrtime.bigint();
  const bars = generateSyntheticBars({ bars: BARS, seed: 42, timeframe: '1m' });
  console.log(`generation: ${(Number(process.hrtime.bigint() - t0) / 1e6).toFixed(0)} ms (excluded below)\n`);

  const rate = (ms: number): number => BARS / (ms / 1000);
  const fmt = (r: number): string => `${(r / 1e6).toFixed(1).padStart(6)} M bars/s`;

  const bare = time(() => bareSmaCrossover(bars, FAST, SLOW));
  let smaRate = 0;
  for (const s of listStrategies()) {
    const params: Params = s.name.endsWith('crossover') ? { fast: FAST, slow: SLOW } : {};
    const r = time(() => runBacktest(bars, { strategy: s.name, params }).metrics.finalEquity);
    if (s.name === 'sma-crossover') smaRate = rate(r.ms);
    console.log(`${s.name.padEnd(20)} ${fmt(rate(r.ms))}  (${r.ms.toFixed(1)} ms)`);
  }
  const bareRate = rate(bare.ms);
  console.log(`${'bare sma loop'.padEnd(20)} ${fmt(bareRate)}  (${bare.ms.toFixed(1)} ms)`);
  console.log(
    `\nsma-crossover full/bare time ratio: ${(bareRate / smaRate).toFixed(2)}x (goal <= 2x; goal >= 30 M bars/s)`,
  );
}

main();
