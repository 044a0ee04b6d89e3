import { type TestBus } from '../../test/support/bus';
/**
 * Run lifecycle latencies against the built services as real processes (test/support TestSystem:
 * gateway, projection and engine workers in an isolated namespace + schema):
 *   1. submit → Running: from sending POST /api/backtests to (a) the RunStarted event's stream
 *      timestamp and (b) the status endpoint first reading Running (polled every 5 ms);
 *   2. cancel of a Running run: POST …/cancel until its 200 answer, and until RunCancelled is stored;
 *   3. crash takeover: SIGKILL of the worker running a slow backtest (2 workers) until the
 *      RunStarted of attempt 2 is stored; the killed worker is respawned between iterations.
 * Runs are made slow with the worker's test hook RUNFORGE_TEST_CHUNK_DELAY_MS (a sleep after each
 * 65,536-bar chunk), so a cancel waits for at most one chunk plus that sleep.
 *
 *   npm run bench:lifecycle     (= npm run build && node bench/dist/system/bench/src/lifecycle.bench.js)
 *   BENCH_RUNS=100 BENCH_CRASHES=10 BENCH_CHUNK_DELAY_MS=20 node bench/dist/system/bench/src/lifecycle.bench.js
 */
import { CONSUMER_SETTINGS } from '@runforge/contracts';
import { loadBars } from '@runforge/datasets';

import { eventually } from '../../test/support/eventually';
import { statusOf, TERMINAL, withBus, workerPidOf, type RunStatus } from '../../test/support/runs';
import { http, TestSystem, type ServiceProcess } from '../../test/support/system';
import { percentile, printMachine, summary, wallMs } from './support/bench-report';

const RUNS = Number(process.env['BENCH_RUNS'] ?? 50);
const CRASHES = Number(process.env['BENCH_CRASHES'] ?? 8);
const WARMUP = Number(process.env['BENCH_WARMUP'] ?? 3);
const CHUNK_DELAY_MS = process.env['BENCH_CHUNK_DELAY_MS'] ?? '20';
const SLOW_WORKER = { RUNFORGE_TEST_CHUNK_DELAY_MS: CHUNK_DELAY_MS, RUNFORGE_PROGRESS_INTERVAL_MS: '0' };
/** Crash runs: 1,000,000 bars in 16 chunks of ~150 ms, so a run lasts ~2.5 s and a kill can land anywhere in a heartbeat period. */
const CRASH_BARS = 1_000_000;
const CRASH_WORKER = { RUNFORGE_TEST_CHUNK_DELAY_MS: '150', RUNFORGE_PROGRESS_INTERVAL_MS: '0' };
/** The default heartbeat, and the renewal interval the worker really uses (never over a third of the ack wait). */
const HEARTBEAT_MS = 2000;
const ACK_WAIT_MS = CONSUMER_SETTINGS.engine.ackWaitSeconds * 1000;
const RENEW_MS = Math.min(HEARTBEAT_MS, ACK_WAIT_MS / 3);

const backtest = (seed: number, bars = 3_000_000) => ({
  strategy: 'sma-crossover',
  params: { fast: 10, slow: 30 },
  dataset: { synthetic: { bars, seed, timeframe: '1m' } },
});

async function submit(sys: TestSystem, seed: number, bars?: number): Promise<string> {
  const r = await http<{ id: string }>(sys.gateway.url, 'POST', '/api/backtests', backtest(seed, bars));
  if (r.status !== 202) throw new Error(`submit answered ${r.status}: ${JSON.stringify(r.body)}`);
  return r.body.id;
}

const pollStatus = (
  sys: TestSystem,
  id: string,
  accept: (s: RunStatus) => boolean,
  what: string,
  intervalMs: number,
  timeoutMs = 30_000,
) => eventually(what, () => statusOf(sys, 'backtest', id), accept, { timeoutMs, intervalMs });

/** Stream time (ms since epoch) at which the latest event of `type` (optionally of an attempt) was stored. */
async function storedAt(
  bus: TestBus,
  id: string,
  type: 'RunRequested' | 'RunStarted' | 'RunCancelled',
  attempt?: number,
): Promise<number> {
  const e = await eventually(
    `${type}${attempt ? ` (attempt ${attempt})` : ''} of ${id} to be stored`,
    () => bus.lastOfType(id, type),
    (x) => x !== undefined && (attempt === undefined || x.event.attempt === attempt),
    { timeoutMs: 30_000, intervalMs: 10 },
  );
  return Date.parse((e as { storedAt: string }).storedAt);
}

interface SubmitCancelSamples {
  ack: number[];
  startedStream: number[];
  runningPolled: number[];
  cancelAnswer: number[];
  cancelStored: number[];
  cancelPolled: number[];
  answers202: number;
}

async function submitAndCancel(sys: TestSystem, bus: TestBus, n: number, warmup: number): Promise<SubmitCancelSamples> {
  const s: SubmitCancelSamples = {
    ack: [],
    startedStream: [],
    runningPolled: [],
    cancelAnswer: [],
    cancelStored: [],
    cancelPolled: [],
    answers202: 0,
  };
  for (let i = 0; i < warmup + n; i++) {
    const t0 = wallMs();
    // One dataset for every run: after the warm-up the worker has it cached, so this measures dispatch.
    const id = await submit(sys, 11);
    const tAck = wallMs();
    await pollStatus(sys, id, (x) => x.status === 'Running', 'the run to read Running', 5);
    const tRunning = wallMs();
    // Cancel mid-run, as a user would: once the worker has reported progress.
    await pollStatus(sys, id, (x) => x.status === 'Running' && x.processedBars > 0, 'the run to make progress', 5);
    const tc = wallMs();
    const cancel = await http<{ status: string }>(sys.gateway.url, 'POST', `/api/backtests/${id}/cancel`);
    const tAnswer = wallMs();
    if (cancel.status !== 200 && cancel.status !== 202)
      throw new Error(`cancel answered ${cancel.status}: ${JSON.stringify(cancel.body)}`);
    await pollStatus(sys, id, (x) => TERMINAL.includes(x.status), 'the run to end', 5);
    const tPolled = wallMs();
    const final = await statusOf(sys, 'backtest', id);
    if (final.status !== 'Cancelled')
      throw new Error(`run ${id} ended ${final.status}, not Cancelled (raise the bars or the chunk delay)`);
    const started = await storedAt(bus, id, 'RunStarted', 1);
    const cancelled = await storedAt(bus, id, 'RunCancelled');
    if (i < warmup) continue;
    s.ack.push(tAck - t0);
    s.startedStream.push(started - t0);
    s.runningPolled.push(tRunning - t0);
    s.cancelAnswer.push(tAnswer - tc);
    s.cancelStored.push(cancelled - tc);
    s.cancelPolled.push(tPolled - tc);
    if (cancel.status === 202) s.answers202++;
  }
  return s;
}

interface TakeoverSample {
  killToStarted: number;
  killToAbandoned: number;
  /** How long attempt 1 had been running when it was killed (its heartbeats are at 2 s, 4 s, …). */
  ranMs: number;
}

async function crashTakeovers(sys: TestSystem, bus: TestBus, n: number): Promise<TakeoverSample[]> {
  const live = (): ServiceProcess[] =>
    sys.processes.filter((p) => p.name === 'engine-worker' && p.child.exitCode === null && p.child.signalCode === null);
  const out: TakeoverSample[] = [];
  for (let i = 0; i < n; i++) {
    while (live().length < 2) await sys.spawn('engine-worker', CRASH_WORKER);
    // A fresh dataset each time, so every takeover pays the same cold start (materialising the bars).
    const id = await submit(sys, 5000 + i, CRASH_BARS);
    await pollStatus(sys, id, (x) => x.status === 'Running' && x.processedBars > 0, 'the run to make progress', 20);
    const history = await bus.history(id);
    const pid = workerPidOf(history);
    const victim = sys.processes.find((p) => p.child.pid === pid);
    if (!victim) throw new Error(`no worker with pid ${pid}`);
    const started1 = Date.parse(history.find((h) => h.event.type === 'RunStarted')?.storedAt ?? '');
    // A crash strikes at any point of the heartbeat period: deliberate random jitter, not a wait for a condition.
    await new Promise((r) => setTimeout(r, Math.random() * HEARTBEAT_MS));
    const tk = wallMs();
    await sys.kill(victim, 'SIGKILL');
    const started = await storedAt(bus, id, 'RunStarted', 2);
    const abandoned = await eventually(
      'RunAttemptAbandoned to be stored',
      () => bus.lastOfType(id, 'RunAttemptAbandoned'),
      (x) => x !== undefined,
      { timeoutMs: 10_000, intervalMs: 10 },
    );
    const sample = {
      killToStarted: started - tk,
      killToAbandoned: Date.parse((abandoned as { storedAt: string }).storedAt) - tk,
      ranMs: tk - started1,
    };
    out.push(sample);
    console.log(
      `  takeover ${i + 1}/${n}: killed ${(sample.ranMs / 1000).toFixed(2)} s into attempt 1; attempt 2 abandoned-recorded after ${(sample.killToAbandoned / 1000).toFixed(2)} s, started after ${(sample.killToStarted / 1000).toFixed(2)} s`,
    );
    // Free the surviving worker for the next iteration.
    await http(sys.gateway.url, 'POST', `/api/backtests/${id}/cancel`);
    await pollStatus(sys, id, (x) => TERMINAL.includes(x.status), 'the run to end', 20);
  }
  return out;
}

async function main(): Promise<void> {
  printMachine('lifecycle bench: submit → Running, cancel, crash takeover');
  console.log(
    `settings: ${RUNS} submit/cancel runs (+${WARMUP} warm-up), ${CRASHES} crash takeovers, 3,000,000-bar backtests, chunk delay ${CHUNK_DELAY_MS} ms, heartbeat ${HEARTBEAT_MS} ms, ack wait ${ACK_WAIT_MS} ms`,
  );
  const g0 = performance.now();
  await loadBars(backtest(0).dataset);
  const generateMs = performance.now() - g0;
  console.log(
    `materialising one 3,000,000-bar synthetic dataset in-process: ${generateMs.toFixed(0)} ms (a worker does this before RunStarted unless cached)`,
  );
  const sys = await TestSystem.start(['gateway', 'projection', 'engine-worker'], SLOW_WORKER);
  try {
    await withBus(sys, async (bus) => {
      const s = await submitAndCancel(sys, bus, RUNS, WARMUP);
      console.log('\n## submit → Running (1 idle worker)');
      console.log(summary('POST answered 202 (RunRequested stored)', s.ack));
      console.log(summary('POST sent → RunStarted stored (stream timestamp; used for the goal)', s.startedStream));
      console.log(
        summary('POST sent → status first reads Running (5 ms polling, includes projection lag)', s.runningPolled),
      );
      console.log('\n## cancel of a Running run');
      console.log(summary('POST cancel → answer', s.cancelAnswer));
      console.log(summary('POST cancel sent → RunCancelled stored', s.cancelStored));
      console.log(summary('POST cancel sent → status reads Cancelled (5 ms polling)', s.cancelPolled));
      console.log(`answers: ${RUNS - s.answers202} × 200 Cancelled, ${s.answers202} × 202 Cancelling`);
      const p99 = percentile(s.cancelAnswer, 99);
      console.log(`goal cancel p99 < 250 ms: ${p99 < 250 ? 'MET' : 'NOT MET'} (${p99.toFixed(1)} ms)`);
    });
  } finally {
    await sys.stop();
  }

  const crashSys = await TestSystem.start(['gateway', 'projection', 'engine-worker', 'engine-worker'], CRASH_WORKER);
  try {
    await withBus(crashSys, async (bus) => {
      console.log(
        `\n## crash takeover (2 workers, SIGKILL the one running a ${CRASH_BARS.toLocaleString('en')}-bar backtest at a random moment)`,
      );
      const t = await crashTakeovers(crashSys, bus, CRASHES);
      const started = t.map((x) => x.killToStarted);
      console.log(
        summary(
          'SIGKILL → RunAttemptAbandoned stored (redelivered, detected)',
          t.map((x) => x.killToAbandoned),
        ),
      );
      console.log(summary('SIGKILL → RunStarted attempt 2 stored (incl. materialising a fresh dataset)', started));
      const max = Math.max(...started);
      console.log(
        `goal takeover < 3 × heartbeat (${3 * HEARTBEAT_MS} ms): ${max < 3 * HEARTBEAT_MS ? 'MET' : 'NOT MET'} for the max (${max.toFixed(0)} ms), ` +
          `p50 ${percentile(started, 50).toFixed(0)} ms. Redelivery waits for the ${ACK_WAIT_MS} ms ack wait counted from the ` +
          `killed worker's last working() (sent every ${RENEW_MS.toFixed(0)} ms), so takeover ≈ ${(ACK_WAIT_MS - RENEW_MS).toFixed(0)}–${ACK_WAIT_MS} ms + pull and start.`,
      );
    });
  } finally {
    await crashSys.stop();
  }
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    console.error(err);
    process.exit(1);
  },
);
