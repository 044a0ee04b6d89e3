/**
 * Optimization throughput through the whole system, against the same trials run in-process:
 *   - pure engine: every trial of the grid with runBacktest from @runforge/engine, one thread;
 *   - 1 and then 2 engine-worker processes (plus gateway and projection, test/support TestSystem in
 *     an isolated namespace + schema): POST /api/optimizations, wait for Completed, then read the
 *     run's history and take trials/s from the stream timestamps of RunStarted → RunCompleted
 *     (also first → last trial event, and the status' startedAt → completedAt).
 * Orchestration overhead = 1 − (1-worker trials/s ÷ pure engine trials/s).
 *
 *   npm run bench:optimize      (= npm run build && node bench/dist/system/bench/src/optimize.bench.js)
 *   BENCH_BARS=200000 BENCH_FAST=300 BENCH_WORKERS=1,2 node bench/dist/system/bench/src/optimize.bench.js
 */
import { trialOutcomesOf } from '@runforge/contracts';
import { runBacktest } from '@runforge/engine';
import { loadBars, type StoredRunEvent } from '@runforge/platform';
import { eventually } from '../../test/support/eventually';
import { statusOf, TERMINAL, withBus } from '../../test/support/runs';
import { http, TestSystem, type ServiceName } from '../../test/support/system';
import { printMachine } from './support/bench-report';
import { CpuMeter, pidsNamed } from './support/cpu';

const BARS = Number(process.env['BENCH_BARS'] ?? 100_000);
const FAST = Number(process.env['BENCH_FAST'] ?? 200); // fast 2..FAST+1
const WORKERS = (process.env['BENCH_WORKERS'] ?? '1,2').split(',').map(Number);
const SLOW = Array.from({ length: 10 }, (_, i) => FAST + 10 + 20 * i); // 10 values, all above every fast
const dataset = { synthetic: { bars: BARS, seed: 42, timeframe: '1m' } };
const request = {
  strategy: 'sma-crossover',
  axes: { fast: { min: 2, max: FAST + 1, step: 1 }, slow: SLOW },
  constraints: ['fast < slow'],
  dataset,
};

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
}

async function throughSystem(workers: number): Promise<SystemResult> {
  const services: ServiceName[] = [
    'gateway',
    'projection',
    ...Array.from({ length: workers }, () => 'engine-worker' as const),
  ];
  const sys = await TestSystem.start(services);
  const pidsOf = (name: ServiceName) => (): number[] =>
    sys.processes.filter((p) => p.name === name).map((p) => p.child.pid ?? -1);
  const meter = new CpuMeter({
    'engine-worker': pidsOf('engine-worker'),
    projection: pidsOf('projection'),
    gateway: pidsOf('gateway'),
    'nats-server': () => pidsNamed('nats-server'),
    postgres: () => pidsNamed('postgres'),
  });
  const benchCpuBefore = process.cpuUsage();
  meter.start();
  try {
    const r = await http<{ id: string; totalCombinations: number }>(
      sys.gateway.url,
      'POST',
      '/api/optimizations',
      request,
    );
    if (r.status !== 202) throw new Error(`submit answered ${r.status}: ${JSON.stringify(r.body)}`);
    const { id, totalCombinations: total } = r.body;
    const final = await eventually(
      `optimization ${id} to finish`,
      () => statusOf(sys, 'optimization', id),
      (s) => TERMINAL.includes(s.status),
      { timeoutMs: 600_000, intervalMs: 1000 },
    );
    if (final.status !== 'Completed' || final.completedCombinations !== total) {
      throw new Error(
        `optimization ended ${final.status} with ${final.completedCombinations}/${total}: ${final.errorMessage ?? ''}`,
      );
    }
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
    };
  } finally {
    await sys.stop();
  }
}

async function main(): Promise<void> {
  printMachine('optimize bench: grid throughput, 1 vs 2 engine workers, against the pure engine');
  const bars = await loadBars(dataset);
  const total = FAST * SLOW.length;
  console.log(
    `grid: sma-crossover fast 2..${FAST + 1} × slow [${SLOW.join(', ')}] (fast < slow holds everywhere) = ${total} trials over ${bars.length.toLocaleString('en')} synthetic 1m bars`,
  );

  const cold = pureEngine(bars);
  const warm = pureEngine(bars);
  const pureRate = (cold.trials / cold.ms) * 1000;
  console.log(
    `\npure engine, in-process, 1 thread: cold ${pureRate.toFixed(1)} trials/s (${(cold.ms / 1000).toFixed(2)} s), warm ${((warm.trials / warm.ms) * 1000).toFixed(1)} trials/s (${(warm.ms / 1000).toFixed(2)} s); ${((BARS * cold.trials) / cold.ms / 1000).toFixed(1)} M bars/s`,
  );

  const rates = new Map<number, number>();
  for (const w of WORKERS) {
    const r = await throughSystem(w);
    if (r.total !== total) throw new Error(`the API planned ${r.total} trials, the bench ${total}`);
    const rate = (r.total / r.runMs) * 1000;
    rates.set(w, rate);
    const engineMs = [...r.engineMsByWorker.values()].reduce((a, b) => a + b, 0);
    console.log(
      `\n${w} worker${w > 1 ? 's' : ''}: ${rate.toFixed(1)} trials/s (RunStarted → RunCompleted ${(r.runMs / 1000).toFixed(2)} s stored)`,
    );
    console.log(
      `  first → last trial outcome stored: ${(r.trialSpanMs / 1000).toFixed(2)} s (${((r.total / r.trialSpanMs) * 1000).toFixed(1)} trials/s); status startedAt → completedAt ${(r.statusMs / 1000).toFixed(2)} s`,
    );
    console.log(
      `  engine time inside the workers (sum of trial durationMs): ${(engineMs / 1000).toFixed(2)} s; trials per worker: ${[...r.trialsByWorker.values()].join(' / ')}`,
    );
    console.log(
      `  timeline (ms after RunStarted, stream time): ${r.timeline.map((m) => `${m.label} ${m.ms.toFixed(0)}`).join(', ')}`,
    );
    console.log(
      `  CPU seconds, submit → Completed: ${Object.entries(r.cpu)
        .map(([name, s]) => `${name} ${s.toFixed(2)}`)
        .join(', ')}`,
    );
  }

  console.log('\n## summary');
  const one = rates.get(1);
  const two = rates.get(2);
  if (one !== undefined) {
    const overhead = 1 - one / pureRate;
    console.log(
      `orchestration overhead (1 worker vs pure engine): ${(overhead * 100).toFixed(1)}% — goal < 10%: ${overhead < 0.1 ? 'MET' : 'NOT MET'}`,
    );
  }
  if (one !== undefined && two !== undefined) {
    const ratio = two / one;
    console.log(
      `2 workers ÷ 1 worker: ${ratio.toFixed(2)}× — goal ≥ 1.8× on 2 cores: ${ratio >= 1.8 ? 'MET' : 'NOT MET'} (NATS, Postgres, gateway and projection share the same cores)`,
    );
  }
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    console.error(err);
    process.exit(1);
  },
);
