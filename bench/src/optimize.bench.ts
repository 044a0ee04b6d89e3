/**
 * Optimization throughput through the whole system, against the same trials run in-process:
 *   - pure engine: every trial of the grid with runBacktest from @runforge/engine in one loop, in a
 *     fresh plain process (and, for scale, in two such processes at once);
 *   - 1 and then 2 engine-worker processes (plus gateway and projection, test/support TestSystem in
 *     an isolated namespace + schema): POST /api/optimizations, wait for Completed, then read the
 *     run's history and take trials/s from the stream timestamps of RunStarted → RunCompleted
 *     (also first → last trial event, and the status' startedAt → completedAt).
 * Orchestration overhead = (1-worker time − pure engine time) ÷ pure engine time. Each round
 * measures the pure engine and then both systems back to back, and the summary takes the median
 * of the rounds: this machine's speed drifts by several percent from minute to minute.
 *
 *   npm run bench:optimize      (= npm run build && node bench/dist/system/bench/src/optimize.bench.js)
 *   BENCH_BARS=100000 BENCH_FAST=300 BENCH_ROUNDS=5 BENCH_WORKERS=1,2 BENCH_WARMUP=0 node bench/dist/system/bench/src/optimize.bench.js
 *   BENCH_DATASET=warm npm run bench:optimize   (the workers already hold the dataset: a repeat optimization)
 */
import { spawn } from 'node:child_process';
import { trialOutcomesOf } from '@runforge/contracts';
import { runBacktest } from '@runforge/engine';
import { loadBars } from '@runforge/datasets';
import { type StoredRunEvent } from '@runforge/messaging';
import { TERMINAL, waitForStatus, withBus, type RunStatus } from '../../test/support/runs';
import { http, TestSystem, type ServiceName } from '../../test/support/system';
import { percentile, printMachine } from './support/bench-report';
import { systemCpuMeter } from './support/cpu';

const BARS = Number(process.env['BENCH_BARS'] ?? 1_000_000);
const ROUNDS = Number(process.env['BENCH_ROUNDS'] ?? 3);
/** Also time two plain engine processes at once each round: the machine's own scaling (0: skip). */
const PAIR = process.env['BENCH_PAIR'] !== '0';
const FAST = Number(process.env['BENCH_FAST'] ?? 200); // fast 2..FAST+1
const WORKERS = (process.env['BENCH_WORKERS'] ?? '1,2').split(',').map(Number);
const SLOW = Array.from({ length: 10 }, (_, i) => FAST + 10 + 20 * i); // 10 values, all above every fast
/** A small optimization over another dataset first, so the services' code is compiled (0: cold). */
const WARMUP = process.env['BENCH_WARMUP'] !== '0';
/**
 * cold (default): the measured run's dataset is new to the workers, so each one materialises it
 * inside the run (~0.15 s at 1M bars). warm: the warm-up ran over the same dataset, so every worker
 * already holds it (BarsCache), as in a repeat optimization over the same data; this isolates the
 * grid's own cost from the once-per-dataset load.
 */
const DATASET_MODE = process.env['BENCH_DATASET'] ?? 'cold';
if (DATASET_MODE !== 'cold' && DATASET_MODE !== 'warm')
  throw new Error(`BENCH_DATASET must be cold or warm, got ${DATASET_MODE}`);
if (DATASET_MODE === 'warm' && !WARMUP)
  throw new Error('BENCH_DATASET=warm needs the warm-up run (drop BENCH_WARMUP=0)');
const dataset = { synthetic: { bars: BARS, seed: 42, timeframe: '1m' } };
const request = {
  strategy: 'sma-crossover',
  axes: { fast: { min: 2, max: FAST + 1, step: 1 }, slow: SLOW },
  constraints: ['fast < slow'],
  dataset,
};
const warmupRequest = {
  ...request,
  axes: { fast: { min: 2, max: 21, step: 1 }, slow: SLOW },
  dataset: DATASET_MODE === 'warm' ? dataset : { synthetic: { bars: BARS, seed: 43, timeframe: '1m' } },
};

/** Every trial of the grid in one plain loop in this process, the dataset already in memory. */
function pureEngine(bars: Awaited<ReturnType<typeof loadBars>>): { ms: number; trials: number; check: number } {
  const t0 = performance.now();
  let trials = 0;
  let check = 0;
  for (const slow of SLOW) {
    for (let fast = 2; fast <= FAST + 1; fast++) {
      const r = runBacktest(bars, {
        strategy: 'sma-crossover',
        params: { fast, slow },
        initialCapital: 10_000,
        commissionBps: 1,
        slippageBps: 0,
        positionFraction: 1,
        allowShort: false,
      });
      check += r.metrics.totalReturn;
      trials++;
    }
  }
  return { ms: performance.now() - t0, trials, check };
}

interface PureResult {
  ms: number;
  trials: number;
}

/**
 * The pure engine in a fresh process (as each worker is one), so both sides start from the same JIT
 * and heap state: timed in this bench process after it had driven a system, the same loop came out
 * 10–15% slower than its first timing, which made the overhead read negative.
 */
function pureInChild(): Promise<PureResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [__filename, '--pure'], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
    child.once('error', reject);
    child.once('exit', (code) => {
      if (code !== 0) reject(new Error(`pure engine child exited with ${code}`));
      else resolve(JSON.parse(out) as PureResult);
    });
  });
}

async function pureChildMain(): Promise<void> {
  const { ms, trials } = pureEngine(await loadBars(dataset));
  process.stdout.write(JSON.stringify({ ms, trials }));
}

interface SystemResult {
  workers: number;
  total: number;
  runMs: number;
  trialSpanMs: number;
  statusMs: number;
  engineMsByWorker: Map<string, number>;
  trialsByWorker: Map<string, number>;
  /** Milestones in stream time, ms after RunStarted. */
  timeline: { label: string; ms: number }[];
  /** CPU seconds per process group from submit to Completed. */
  cpu: Record<string, number>;
  /** System calls per process group from submit to Completed (reads and writes, /proc/<pid>/io). */
  syscalls: Record<string, number>;
}

/** Submits an optimization and waits (polling status once a second) until it completed every trial. */
async function optimize(
  sys: TestSystem,
  body: typeof request,
): Promise<{ id: string; total: number; final: RunStatus }> {
  const r = await http<{ id: string; totalCombinations: number }>(sys.gateway.url, 'POST', '/api/optimizations', body);
  if (r.status !== 202) throw new Error(`submit answered ${r.status}: ${JSON.stringify(r.body)}`);
  const { id, totalCombinations: total } = r.body;
  const final = await waitForStatus(
    sys,
    'optimization',
    id,
    (s) => TERMINAL.includes(s.status),
    `optimization ${id} to finish`,
    600_000,
    1000,
  );
  if (final.status !== 'Completed' || final.completedCombinations !== total) {
    throw new Error(
      `optimization ended ${final.status} with ${final.completedCombinations}/${total}: ${final.errorMessage ?? ''}`,
    );
  }
  return { id, total, final };
}

async function throughSystem(workers: number): Promise<SystemResult> {
  const services: ServiceName[] = [
    'gateway',
    'projection',
    ...Array.from({ length: workers }, () => 'engine-worker' as const),
  ];
  const sys = await TestSystem.start(services);
  if (WARMUP) {
    const warm = await optimize(sys, warmupRequest);
    if (DATASET_MODE === 'warm') {
      // Each worker holds the dataset only if it ran at least one warm-up trial.
      const history = await withBus(sys, (bus) => bus.history(warm.id));
      const ran = new Set(history.flatMap((h) => trialOutcomesOf(h.event)).map((o) => o.workerId));
      if (ran.size < workers)
        throw new Error(`BENCH_DATASET=warm: only ${ran.size} of ${workers} workers ran a warm-up trial`);
    }
  }
  const meter = systemCpuMeter(sys);
  const benchCpuBefore = process.cpuUsage();
  meter.start();
  try {
    const { id, total, final } = await optimize(sys, request);
    const cpu = meter.stop();
    const benchCpu = process.cpuUsage(benchCpuBefore);
    cpu['bench (polling status)'] = (benchCpu.user + benchCpu.system) / 1e6;
    const history = await withBus(sys, (bus) => bus.history(id));
    const at = (e: StoredRunEvent): number => Date.parse(e.storedAt);
    const of = (type: string): StoredRunEvent[] => history.filter((h) => h.event.type === type);
    const started = of('RunStarted')[0];
    const completed = of('RunCompleted')[0];
    // One stored event per recorded batch of outcomes: time from the first to the last of them.
    const trials = history.filter((h) => trialOutcomesOf(h.event).length > 0);
    if (!started || !completed || trials.length === 0)
      throw new Error('history lacks RunStarted, RunCompleted or trials');
    const engineMsByWorker = new Map<string, number>();
    const trialsByWorker = new Map<string, number>();
    for (const o of history.flatMap((h) => trialOutcomesOf(h.event))) {
      engineMsByWorker.set(o.workerId, (engineMsByWorker.get(o.workerId) ?? 0) + o.durationMs);
      trialsByWorker.set(o.workerId, (trialsByWorker.get(o.workerId) ?? 0) + 1);
    }
    const t0 = at(started);
    const scheduledLog = history.find(
      (h) => h.event.type === 'RunLogged' && h.event.data.message.startsWith('scheduled '),
    );
    const timeline = [
      { label: 'RunRequested', ms: at(of('RunRequested')[0] ?? started) - t0 },
      { label: 'batches scheduled', ms: scheduledLog ? at(scheduledLog) - t0 : Number.NaN },
      { label: 'first outcomes', ms: at(trials[0] as StoredRunEvent) - t0 },
      { label: 'last outcomes', ms: at(trials[trials.length - 1] as StoredRunEvent) - t0 },
      { label: 'RunCompleted', ms: at(completed) - t0 },
    ];
    const statusAt = final as unknown as { startedAt?: string; completedAt?: string };
    return {
      workers,
      total,
      runMs: at(completed) - at(started),
      trialSpanMs: at(trials[trials.length - 1] as StoredRunEvent) - at(trials[0] as StoredRunEvent),
      statusMs: Date.parse(statusAt.completedAt ?? '') - Date.parse(statusAt.startedAt ?? ''),
      engineMsByWorker,
      trialsByWorker,
      timeline,
      cpu,
      syscalls: meter.syscalls,
    };
  } finally {
    await sys.stop();
  }
}

/** The middle round (nearest rank: with an even count, the lower of the two middle ones). */
function median(xs: readonly number[]): number {
  return percentile(xs, 50);
}

function report(r: SystemResult): void {
  const engineMs = [...r.engineMsByWorker.values()].reduce((a, b) => a + b, 0);
  console.log(
    `  ${r.workers} worker${r.workers > 1 ? 's' : ''}: ${((r.total / r.runMs) * 1000).toFixed(1)} trials/s (RunStarted → RunCompleted ${(r.runMs / 1000).toFixed(2)} s stored)`,
  );
  console.log(
    `    first → last trial outcome stored: ${(r.trialSpanMs / 1000).toFixed(2)} s; status startedAt → completedAt ${(r.statusMs / 1000).toFixed(2)} s`,
  );
  console.log(
    `    engine time inside the workers (sum of trial durationMs): ${(engineMs / 1000).toFixed(2)} s; trials per worker: ${[...r.trialsByWorker.values()].join(' / ')}`,
  );
  console.log(
    `    timeline (ms after RunStarted, stream time): ${r.timeline.map((m) => `${m.label} ${m.ms.toFixed(0)}`).join(', ')}`,
  );
  console.log(
    `    CPU seconds, submit → Completed: ${Object.entries(r.cpu)
      .map(([name, sec]) => `${name} ${sec.toFixed(2)}`)
      .join(', ')}`,
  );
  console.log(
    `    system calls (reads + writes) per trial: ${Object.entries(r.syscalls)
      .map(([name, n]) => `${name} ${(n / r.total).toFixed(1)}`)
      .join(', ')}`,
  );
}

async function main(): Promise<void> {
  printMachine('optimize bench: grid throughput, 1 vs 2 engine workers, against the pure engine');
  const loadStarted = performance.now();
  const bars = await loadBars(dataset);
  const loadMs = performance.now() - loadStarted;
  const total = FAST * SLOW.length;
  if (bars.length !== BARS) throw new Error(`dataset has ${bars.length} bars, expected ${BARS}`);
  console.log(
    `grid: sma-crossover fast 2..${FAST + 1} × slow [${SLOW.join(', ')}] (fast < slow holds everywhere) = ${total} trials over ${bars.length.toLocaleString('en')} synthetic 1m bars (generated in ${loadMs.toFixed(0)} ms); ${ROUNDS} round${ROUNDS > 1 ? 's' : ''}, ${WARMUP ? `each system warmed up by a 200-trial run over ${DATASET_MODE === 'warm' ? 'the same dataset, which the workers keep (BENCH_DATASET=warm)' : 'another dataset (the measured run loads its own)'}` : 'cold systems (BENCH_WARMUP=0)'}`,
  );

  const overheads: number[] = [];
  const ratios: number[] = [];
  const machineRatios: number[] = [];
  /** 2 ÷ 1 of each round over what two plain processes gave the same round. */
  const shares: number[] = [];
  /** CPU of everything but the workers (NATS, Postgres, projection, gateway, bench) ÷ the workers' CPU, 2-worker run. */
  const besides: number[] = [];
  for (let round = 1; round <= ROUNDS; round++) {
    const pure = await pureInChild();
    console.log(
      `\nround ${round}\n  pure engine, one plain process: ${((pure.trials / pure.ms) * 1000).toFixed(1)} trials/s (${(pure.ms / 1000).toFixed(2)} s; ${((BARS * pure.trials) / pure.ms / 1000).toFixed(1)} M bars/s)`,
    );
    if (PAIR) {
      // What the machine itself gives a second process right now: two plain processes, each the whole grid.
      const pair = await Promise.all([pureInChild(), pureInChild()]);
      const slowest = Math.max(...pair.map((p) => p.ms));
      const machine = (2 * pure.ms) / slowest;
      machineRatios.push(machine);
      console.log(
        `  pure engine, two plain processes at once: ${pair.map((p) => (p.ms / 1000).toFixed(2)).join(' s / ')} s → the machine scales ${machine.toFixed(2)}×`,
      );
    }
    const runs = new Map<number, SystemResult>();
    for (const w of WORKERS) {
      const r = await throughSystem(w);
      if (r.total !== total) throw new Error(`the API planned ${r.total} trials, the bench ${total}`);
      runs.set(w, r);
      report(r);
    }
    const one = runs.get(1);
    const two = runs.get(2);
    if (one) {
      // Orchestration overhead: the system's extra time over the same trials run in one plain loop.
      const overhead = one.runMs / pure.ms - 1;
      overheads.push(overhead);
      console.log(`  overhead (1 worker vs pure engine): ${(overhead * 100).toFixed(1)}%`);
    }
    if (one && two) {
      const ratio = one.runMs / two.runMs;
      ratios.push(ratio);
      const machine = PAIR ? machineRatios[machineRatios.length - 1] : undefined; // this round's
      if (machine !== undefined) shares.push(ratio / machine);
      const { 'engine-worker': workerCpu = 0, ...others } = two.cpu;
      const beside = Object.values(others).reduce((a, b) => a + b, 0) / workerCpu;
      besides.push(beside);
      console.log(
        `  2 workers ÷ 1 worker: ${ratio.toFixed(2)}×${machine !== undefined ? ` (${((ratio / machine) * 100).toFixed(0)}% of the machine's ${machine.toFixed(2)}×)` : ''}; CPU beside the engines in the 2-worker run: ${(beside * 100).toFixed(1)}% of the workers' own`,
      );
    }
  }

  console.log('\n## summary (median of the rounds, nearest rank; every round above)');
  const range = (xs: number[], f: (x: number) => string): string =>
    xs.length > 1 ? ` (rounds: ${xs.map(f).join(', ')})` : '';
  if (overheads.length > 0) {
    const m = median(overheads);
    const pct = (x: number): string => `${(x * 100).toFixed(1)}%`;
    console.log(
      `orchestration overhead, (1-worker time − pure engine time) ÷ pure engine time: ${pct(m)}${range(overheads, pct)} — goal < 10%: ${m < 0.1 ? 'MET' : 'NOT MET'}`,
    );
  }
  if (ratios.length > 0) {
    const m = median(ratios);
    const x = (r: number): string => `${r.toFixed(2)}×`;
    console.log(
      `2 workers ÷ 1 worker: ${x(m)}${range(ratios, x)} — goal ≥ 1.8× on 2 cores: ${m >= 1.8 ? 'MET' : 'NOT MET'} (NATS, Postgres, gateway and projection share the same 2 cores)`,
    );
  }
  if (machineRatios.length > 0) {
    const x = (r: number): string => `${r.toFixed(2)}×`;
    console.log(
      `for scale, two plain engine processes ÷ one: ${x(median(machineRatios))}${range(machineRatios, x)} (nothing else running)`,
    );
  }
  if (shares.length > 0) {
    const pct = (r: number): string => `${(r * 100).toFixed(0)}%`;
    console.log(
      `2 workers' speed-up as a share of the machine's own two-process scaling: ${pct(median(shares))}${range(shares, pct)}`,
    );
  }
  if (besides.length > 0) {
    const pct = (r: number): string => `${(r * 100).toFixed(1)}%`;
    console.log(
      `CPU of NATS, Postgres, projection, gateway and the bench ÷ the workers' CPU, 2-worker run: ${pct(median(besides))}${range(besides, pct)} (on 2 saturated cores this comes out of the engines' time)`,
    );
  }
}

(process.argv.includes('--pure') ? pureChildMain() : main()).then(
  () => process.exit(0),
  (err: unknown) => {
    console.error(err);
    process.exit(1);
  },
);
