/**
 * The comparison's worker (bench:throughput, BENCH_BULLMQ): one process consuming a BullMQ queue on
 * the local Redis with concurrency 8, running the same 1,000-bar backtest as RunForge's short runs
 * and returning the same result (metrics and equity curve), which BullMQ stores in Redis.
 *
 *   node bullmq-worker.js <queue name>
 */
import { Worker } from 'bullmq';
import { generateSyntheticBars, runBacktest } from '@runforge/engine';

const queue = process.argv[2];
if (!queue) throw new Error('usage: bullmq-worker <queue name>');
const connection = { host: '127.0.0.1', port: Number(process.env.REDIS_PORT ?? 6379) };

interface JobData {
  bars: number;
  seed: number;
}

const worker = new Worker<JobData>(
  queue,
  (job) => {
    const bars = generateSyntheticBars({ bars: job.data.bars, seed: job.data.seed, timeframe: '1m' });
    const r = runBacktest(bars, { strategy: 'sma-crossover', params: { fast: 10, slow: 30 } });
    return Promise.resolve({ metrics: r.metrics, equityCurve: r.equityCurve, bars: r.bars });
  },
  { connection, concurrency: 8 },
);
worker.on('ready', () => process.send?.('ready'));
process.on('SIGTERM', () => void worker.close().then(() => process.exit(0)));
worker.on('error', (err) => {
  console.error(err);
  process.exit(1);
});
// Forked by the bench: never outlive it (a bench killed mid-run must not leave a worker spinning).
process.on('disconnect', () => process.exit(0));
