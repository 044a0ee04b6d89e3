/**
 * The energy models (DMO, RMO, SO), timed twice:
 *   1. the solver alone, in this process (@runforge/energy over seeded synthetic prices): DMO over 96
 *      quarter-hours, SO and RMO over a week (672), each as LP (`integer: 'never'`) and MIP
 *      (`'always'`, and `'auto'`, which goes integer because every day has negative hours); the
 *      same BENCH_SOLVES instances (seeds 1…N) for every mode, after a warm-up; RMO re-plans the
 *      instance's DMO plan, as on the workers. HiGHS's own clock (`solverTimeMs`, LP + MIP) and the
 *      wall time of the call (writing the LP text, HiGHS reading it, the result);
 *   2. end to end through the built services (test/support TestSystem: gateway, projection, one
 *      engine worker, isolated namespace + schema): POST /api/runs → the run's RunCompleted stored
 *      (stream timestamp) and → GET /api/runs/{id} reads Completed (polled every 5 ms), with the CPU
 *      seconds each process used. DMO runs once per market day per data source, so each DMO run
 *      gets a fresh data source (created before the timings); SO and RMO share one, a week from a
 *      different hour each run, RMO re-planning that source's DMO plan.
 * The first solve in a process loads HiGHS's WebAssembly runtime: it is reported on its own, in
 * this process and as the system's first run.
 *
 *   npm run bench:energy        (= npm run build && node bench/dist/system/bench/src/energy.bench.js)
 *   BENCH_SOLVES=50 BENCH_RUNS=50 BENCH_WARMUP=3 BENCH_SYSTEM=0 node bench/dist/system/bench/src/energy.bench.js
 */
import * as os from 'node:os';
import {
  solveDmo,
  solveRmo,
  solveSo,
  syntheticPrices,
  type EnergyResult,
  type IntegerMode,
  type PriceSeries,
} from '@runforge/energy';
import type { RunEvent } from '@runforge/contracts';
import { type TestBus } from '../../test/support/bus';
import { eventually } from '../../test/support/eventually';
import { TERMINAL, withBus } from '../../test/support/runs';
import { http, TestSystem } from '../../test/support/system';
import { percentile, printMachine, wallMs } from './support/bench-report';
import { systemCpuMeter } from './support/cpu';
import { TEST_ASSET as ASSET } from '../../test/support/energy';

const SOLVES = Number(process.env['BENCH_SOLVES'] ?? 20);
const RUNS = Number(process.env['BENCH_RUNS'] ?? 30);
/** Solves per case, and runs per kind, before the timed ones. */
const WARMUP = Number(process.env['BENCH_WARMUP'] ?? 3);
/** 0: the in-process part only. */
const SYSTEM = process.env['BENCH_SYSTEM'] !== '0';
const GOAL_DMO_P50_MS = 1000;

const DAY = 96;
const WEEK = 672;
const HOUR_MS = 3_600_000;
const PRICES_START = '2026-12-07T00:00:00Z';

const MODELS = ['dmo', 'so', 'rmo'] as const;
type Model = (typeof MODELS)[number];
const MODES: readonly IntegerMode[] = ['never', 'always', 'auto'];
const HORIZON: Record<Model, number> = { dmo: DAY, so: WEEK, rmo: WEEK };

/** A week of seeded quarter-hour prices (day-ahead and intraday), two negative hours a day. */
function pricesOf(seed: number): PriceSeries {
  return syntheticPrices({ seed, start: PRICES_START, intervalMinutes: 15, intervals: WEEK });
}

/** One instance: its prices, and for RMO the committed position its DMO plan makes (zero after that day, as on the workers). */
interface Instance {
  series: PriceSeries;
  committed: number[];
}

async function instanceOf(seed: number): Promise<Instance> {
  const series = pricesOf(seed);
  const dmo = await solveDmo({ series, intervals: DAY, asset: ASSET });
  const committed = new Array<number>(WEEK).fill(0);
  dmo.schedule.forEach((row, t) => (committed[t] = row.dischargeMW - row.chargeMW));
  return { series, committed };
}

function solve(model: Model, { series, committed }: Instance, integer: IntegerMode): Promise<EnergyResult> {
  const config = { integer };
  switch (model) {
    case 'dmo':
      return solveDmo({ series, intervals: DAY, asset: ASSET, config });
    case 'so':
      return solveSo({ series, intervals: WEEK, initialSocMWh: ASSET.initialSocMWh, asset: ASSET, config });
    case 'rmo':
      return solveRmo({ series, intervals: WEEK, committed, asset: ASSET, config });
    default: {
      const unknown: never = model;
      throw new Error(`unknown model ${String(unknown)}`);
    }
  }
}

interface Solve {
  wallMs: number;
  result: EnergyResult;
}

async function timedSolve(model: Model, instance: Instance, integer: IntegerMode): Promise<Solve> {
  const t0 = performance.now();
  const result = await solve(model, instance, integer);
  return { wallMs: performance.now() - t0, result };
}

/** The MIP ran (not skipped because the LP optimum never charges and discharges at once). */
const mipRan = (r: EnergyResult): boolean => r.integer && !r.notes.some((n) => n.includes('MIP skipped'));

const ms = (x: number): string => (x >= 100 ? x.toFixed(0) : x.toFixed(1));
const p50p99 = (xs: readonly number[]): string => `${ms(percentile(xs, 50))} / ${ms(percentile(xs, 99))}`;
const counts = (xs: readonly string[]): string =>
  [...new Set(xs)].map((x) => `${xs.filter((y) => y === x).length}× ${x}`).join(', ');

async function solverAlone(): Promise<void> {
  console.log('\n## 1. Solver alone, in this process (@runforge/energy, HiGHS WebAssembly)');
  // The first solves of a process: loading the runtime, then V8 running the WebAssembly in its baseline tier until it tiers up.
  const first: Solve[] = [];
  const coldInstance = { series: pricesOf(0), committed: [] };
  for (let i = 0; i < 8; i++) first.push(await timedSolve('dmo', coldInstance, 'auto'));
  console.log(
    `first 8 solves of the process, the same DMO 96 (auto) instance, wall / solver ms: ${first.map((s) => `${ms(s.wallMs)} / ${ms(s.result.solverTimeMs)}`).join(', ')}`,
  );
  for (let w = 0; w < WARMUP; w++) {
    const instance = await instanceOf(900 + w);
    for (const model of MODELS) for (const mode of MODES) await solve(model, instance, mode);
  }

  const key = (model: Model, mode: IntegerMode): string => `${model}/${mode}`;
  const samples = new Map<string, Solve[]>(MODELS.flatMap((model) => MODES.map((mode) => [key(model, mode), []])));
  for (let i = 0; i < SOLVES; i++) {
    const instance = await instanceOf(1 + i);
    // Every mode on the same instance back to back, so the machine's drift touches them alike.
    for (const model of MODELS)
      for (const mode of MODES) {
        samples.get(key(model, mode))?.push(await timedSolve(model, instance, mode));
      }
  }

  // The same instance once the runtime is warm: tells tier-up apart from a hard instance.
  const warm: Solve[] = [];
  for (let i = 0; i < 3; i++) warm.push(await timedSolve('dmo', coldInstance, 'auto'));
  console.log(
    `the same instance after the timed solves below, wall / solver ms: ${warm.map((s) => `${ms(s.wallMs)} / ${ms(s.result.solverTimeMs)}`).join(', ')}`,
  );
  console.log(
    `\n${SOLVES} instances (seeds 1…${SOLVES}, prices from ${PRICES_START}, 15 min; RMO re-plans the instance's DMO plan for its first day), after ${WARMUP} warm-up solves per case; times in ms, p50 / p99 (nearest rank: p99 = max for n < 100)\n`,
  );
  console.log('| model | integer | status | MIP ran | solver time | wall time | objective € p50 (min–max) |');
  console.log('|---|---|---|---|---|---|---|');
  for (const model of MODELS) {
    for (const mode of MODES) {
      const xs = samples.get(key(model, mode)) ?? [];
      const objectives = xs.map((s) => s.result.objectiveValue ?? Number.NaN);
      console.log(
        `| ${model.toUpperCase()} ${HORIZON[model]} | ${mode} | ${counts(xs.map((s) => s.result.status))} | ${xs.filter((s) => mipRan(s.result)).length}/${xs.length} | ${p50p99(xs.map((s) => s.result.solverTimeMs))} | ${p50p99(xs.map((s) => s.wallMs))} | ${percentile(objectives, 50).toFixed(2)} (${Math.min(...objectives).toFixed(2)}–${Math.max(...objectives).toFixed(2)}) |`,
      );
    }
  }
  console.log('');
  for (const model of MODELS) {
    const lp = samples.get(key(model, 'never')) ?? [];
    for (const mode of ['always', 'auto'] as const) {
      const mip = samples.get(key(model, mode)) ?? [];
      const gaps = lp.map((s, i) => (s.result.objectiveValue ?? NaN) - (mip[i]?.result.objectiveValue ?? NaN));
      // Both are solved to HiGHS's tolerances (MIP gap 1e-4 by default): allow that much.
      const held = gaps.filter((g, i) => g >= -1e-4 * Math.abs(lp[i]?.result.objectiveValue ?? 0)).length;
      console.log(
        `${model.toUpperCase()} ${HORIZON[model]}: LP ≥ MIP (${mode}) on ${held}/${gaps.length} instances; LP − MIP p50 ${percentile(gaps, 50).toFixed(2)} €, max ${Math.max(...gaps).toFixed(2)} €`,
      );
    }
  }
}

/** The parts of `GET /api/runs/{id}` the bench reads. */
interface RunAnswer {
  status: string;
  errorMessage: string | null;
  result: { solver_status: string; solver_time_ms: number; committed_from?: string } | null;
}

interface RunSample {
  ack: number;
  started: number;
  completedStored: number;
  completedPolled: number;
  solverMs: number;
  /** RunStarted → RunCompleted, stream time: the worker's part, and its phases. */
  worker: number;
  loading: number;
  solving: number;
  finishing: number;
  solverStatus: string;
  committed: boolean;
  /** The first interval planned (the 202's horizonStart). */
  horizonStart: string;
}

/** Submits a run and times it to its RunCompleted (stream timestamp) and to the status reading Completed. */
async function timedRun(sys: TestSystem, bus: TestBus, body: Record<string, unknown>): Promise<RunSample> {
  const t0 = wallMs();
  const r = await http<{ id: string; intervals: number; horizonStart: string }>(
    sys.gateway.url,
    'POST',
    '/api/runs',
    body,
  );
  const tAck = wallMs();
  if (r.status !== 202) throw new Error(`POST /api/runs answered ${r.status}: ${JSON.stringify(r.body)}`);
  const kind = String(body['kind']);
  if (r.body.intervals !== HORIZON[kind as Model])
    throw new Error(`${kind} planned ${r.body.intervals} intervals, expected ${HORIZON[kind as Model]}`);
  const { id } = r.body;
  const final = await eventually(
    `${kind} run ${id} to end`,
    async () => (await http<RunAnswer>(sys.gateway.url, 'GET', `/api/runs/${id}`)).body,
    (x) => TERMINAL.includes(x.status),
    { timeoutMs: 120_000, intervalMs: 5 },
  );
  const tPolled = wallMs();
  if (final.status !== 'Completed' || !final.result)
    throw new Error(`${kind} run ${id} ended ${final.status}: ${final.errorMessage ?? ''}`);
  // The worker's phases, in stream time: RunStarted, progress 20 (data loaded), 90 (solved), RunCompleted.
  const history = await bus.history(id);
  const storedAt = (what: string, match: (e: RunEvent) => boolean): number => {
    const found = history.filter((h) => match(h.event)).pop();
    if (!found) throw new Error(`${what} of ${id} is not stored`);
    return Date.parse(found.storedAt);
  };
  const progressed = (percent: number) => (e: RunEvent) => e.type === 'RunProgressed' && e.data.percent === percent;
  const started = storedAt('RunStarted', (e) => e.type === 'RunStarted');
  const loaded = storedAt('progress 20', progressed(20));
  const solved = storedAt('progress 90', progressed(90));
  const completed = storedAt('RunCompleted', (e) => e.type === 'RunCompleted');
  return {
    ack: tAck - t0,
    started: started - t0,
    completedStored: completed - t0,
    completedPolled: tPolled - t0,
    solverMs: final.result.solver_time_ms,
    worker: completed - started,
    loading: loaded - started,
    solving: solved - loaded,
    finishing: completed - solved,
    solverStatus: final.result.solver_status,
    committed: final.result.committed_from !== undefined,
    horizonStart: r.body.horizonStart,
  };
}

interface Source {
  id: string;
  from: string;
  to: string;
}

async function createSource(sys: TestSystem, seed: number): Promise<Source> {
  const r = await http<Source>(sys.gateway.url, 'POST', '/api/energy/sources', {
    name: `bench battery ${seed}`,
    asset: ASSET,
    synthetic: { seed, days: 10 },
  });
  if (r.status !== 201) throw new Error(`POST /api/energy/sources answered ${r.status}: ${JSON.stringify(r.body)}`);
  return r.body;
}

/** What each run reports, by row: label and how to read it from a sample. */
const RUN_ROWS: readonly (readonly [string, (x: RunSample) => number])[] = [
  ['POST /api/runs → 202', (x) => x.ack],
  ['POST sent → RunStarted stored', (x) => x.started],
  ['**POST sent → RunCompleted stored**', (x) => x.completedStored],
  ['POST sent → status reads Completed (5 ms polling)', (x) => x.completedPolled],
  ['RunStarted → RunCompleted stored (the worker)', (x) => x.worker],
  ['· RunStarted → data loaded (progress 20)', (x) => x.loading],
  ['· data loaded → solved (progress 90)', (x) => x.solving],
  ['· · solver time (`result.solver_time_ms`)', (x) => x.solverMs],
  ['· solved → RunCompleted (notes logged, DMO plan kept)', (x) => x.finishing],
];

function reportRuns(
  title: string,
  { warmup, samples: xs, cpu }: { warmup: RunSample[]; samples: RunSample[]; cpu: Record<string, number> },
): void {
  console.log(`\n### ${title}: n=${xs.length}, ${counts(xs.map((x) => x.solverStatus))}`);
  console.log(
    `warm-up runs before (untimed), POST sent → RunCompleted stored / solver time: ${warmup.map((x) => `${ms(x.completedStored)} / ${ms(x.solverMs)} ms`).join(', ')}`,
  );
  console.log('| measure | p50 | p99 | max | min |');
  console.log('|---|---|---|---|---|');
  for (const [label, of] of RUN_ROWS) {
    const v = xs.map(of);
    console.log(
      `| ${label} | ${ms(percentile(v, 50))} ms | ${ms(percentile(v, 99))} ms | ${ms(Math.max(...v))} ms | ${ms(Math.min(...v))} ms |`,
    );
  }
  const perRun = (sec: number): string => `${((sec / xs.length) * 1000).toFixed(0)} ms`;
  console.log(
    `CPU seconds over the ${xs.length} timed runs (per run): ${Object.entries(cpu)
      .map(([name, sec]) => `${name} ${sec.toFixed(2)} s (${perRun(sec)})`)
      .join(', ')}`,
  );
}

/**
 * WARMUP untimed runs, then RUNS timed ones, one after the other, with the CPU every process used
 * over the timed ones.
 */
async function timedRuns(
  sys: TestSystem,
  bus: TestBus,
  bodyOf: (i: number) => Record<string, unknown>,
): Promise<{ warmup: RunSample[]; samples: RunSample[]; cpu: Record<string, number> }> {
  const warmup: RunSample[] = [];
  for (let i = 0; i < WARMUP; i++) warmup.push(await timedRun(sys, bus, bodyOf(i)));
  const meter = systemCpuMeter(sys);
  const benchBefore = process.cpuUsage();
  meter.start();
  const samples: RunSample[] = [];
  for (let i = WARMUP; i < WARMUP + RUNS; i++) samples.push(await timedRun(sys, bus, bodyOf(i)));
  const cpu = meter.stop();
  const bench = process.cpuUsage(benchBefore);
  cpu['bench (polling)'] = (bench.user + bench.system) / 1e6;
  return { warmup, samples, cpu };
}

async function throughSystem(): Promise<void> {
  console.log(
    `\n## 2. End to end: POST /api/runs → Completed (gateway, projection, 1 engine worker; ${RUNS} runs per kind after ${WARMUP} warm-ups)`,
  );
  const sys = await TestSystem.start(['gateway', 'projection', 'engine-worker']);
  try {
    await withBus(sys, async (bus) => {
      // The system's first energy run: the worker loads HiGHS and compiles the path on it.
      const shared = await createSource(sys, 42);
      const cold = await timedRun(sys, bus, { kind: 'dmo', data_source_id: shared.id, triggered_by: 'bench' });
      console.log(
        `cold first run of the system (DMO 96, fresh worker): RunCompleted stored ${ms(cold.completedStored)} ms after the POST, status read Completed at ${ms(cold.completedPolled)} ms; worker ${ms(cold.worker)} ms: data loaded after ${ms(cold.loading)} ms, solved ${ms(cold.solving)} ms later (solver time ${ms(cold.solverMs)} ms), RunCompleted ${ms(cold.finishing)} ms after that`,
      );

      // DMO runs once per market day per data source: a fresh source per run, created untimed.
      const dmoSources: Source[] = [];
      for (let i = 0; i < WARMUP + RUNS; i++) dmoSources.push(await createSource(sys, 100 + i));
      const dmo = await timedRuns(sys, bus, (i) => ({
        kind: 'dmo',
        data_source_id: dmoSources[i]?.id,
        triggered_by: 'bench',
      }));
      reportRuns('DMO, 96 intervals (a fresh data source per run)', dmo);

      for (const kind of ['so', 'rmo'] as const) {
        // A week from a different hour of the cold DMO's delivery day each run: a new instance, RMO's committed day the same.
        const runs = await timedRuns(sys, bus, (i) => ({
          kind,
          data_source_id: shared.id,
          from: new Date(Date.parse(cold.horizonStart) + (i % 24) * HOUR_MS).toISOString(),
          intervals: WEEK,
          triggered_by: 'bench',
        }));
        const note =
          kind === 'rmo'
            ? `one data source, re-planning its DMO plan: committed position found in ${runs.samples.filter((x) => x.committed).length}/${runs.samples.length}`
            : 'one data source, cached by the worker';
        reportRuns(`${kind.toUpperCase()}, ${WEEK} intervals (${note})`, runs);
      }

      const p50 = percentile(
        dmo.samples.map((x) => x.completedStored),
        50,
      );
      console.log(
        `\ngoal: 96-interval DMO end to end (submit → Completed stored) p50 < ${GOAL_DMO_P50_MS / 1000} s: ${p50 < GOAL_DMO_P50_MS ? 'MET' : 'NOT MET'} (p50 ${ms(p50)} ms, n=${dmo.samples.length})`,
      );
    });
  } finally {
    await sys.stop();
  }
}

async function main(): Promise<void> {
  printMachine('energy bench: DMO, RMO and SO — the solver alone, and end to end');
  const load = (): string =>
    os
      .loadavg()
      .map((x) => x.toFixed(2))
      .join(', ');
  // The machine is shared: the load beside the bench says how much to trust the figures.
  console.log(`load average at the start: ${load()}`);
  await solverAlone();
  if (SYSTEM) await throughSystem();
  console.log(`load average at the end: ${load()}`);
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    console.error(err);
    process.exit(1);
  },
);
