/**
 * Chaos soak (issue #20): the built services as processes against a private nats-server and a
 * private Postgres that this script starts, stops and restarts itself (the machine's shared servers
 * are never touched), running backtests and optimizations while faults are injected at seeded
 * random moments:
 *   worker SIGKILL, worker SIGSTOP (then SIGCONT), projection SIGKILL (restarted), gateway SIGKILL
 *   (restarted), NATS kill -9 and restart, Postgres restart (clean or crash).
 * Afterwards it asserts: every accepted run reached exactly one terminal event; every optimization
 * that completed counted each trial once; `npm run verify` equal over the whole stream; no
 * acknowledged (202) submission lost; the projection caught up within CHAOS_CATCHUP_BOUND_S.
 * It prints a table (faults by type, runs, max catch-up, max 503 window) for RELIABILITY.md.
 *
 *   npm run chaos                 (≈ 200 runs of each kind; CHAOS_SEED, CHAOS_RUNS, CHAOS_FAULTS)
 *   npm run chaos -- --short      (≈ 2–3 minutes)
 *
 * Not yet: a 3-node cluster with R3 streams (PrivateNatsCluster is ready for it), program kinds and
 * the energy models (DMO/RMO/SO).
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import path from 'node:path';
import { jetstreamManager } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import { isRunEnd, trialOutcomesOf } from '@runforge/contracts';
import { TestBus } from '../../test/support/bus';
import { eventually } from '../../test/support/eventually';
import { PrivateNats, PrivatePostgres } from '../../test/support/private-servers';
import { http, ROOT, TestSystem, type ServiceProcess } from '../../test/support/system';

const SHORT = process.argv.includes('--short');
const SEED = Number(process.env.CHAOS_SEED ?? 20);
const RUNS_PER_KIND = Number(process.env.CHAOS_RUNS ?? (SHORT ? 20 : 200));
const FAULTS = Number(process.env.CHAOS_FAULTS ?? (SHORT ? 8 : 40));
/** Submissions are spread over the soak, so faults land while runs are queued and running. */
const SUBMIT_INTERVAL_MS = Number(process.env.CHAOS_SUBMIT_INTERVAL_MS ?? (SHORT ? 1200 : 250));
const CATCHUP_BOUND_S = Number(process.env.CHAOS_CATCHUP_BOUND_S ?? 120);
const WORKER_ENV = { RUNFORGE_TEST_CHUNK_DELAY_MS: '5' };

/** mulberry32: a small seeded generator, so a soak's faults and moments repeat with its seed. */
function seeded(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
const random = seeded(SEED);
const pick = <T>(xs: readonly T[]): T => xs[Math.floor(random() * xs.length)] as T;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const FAULT_TYPES = [
  'worker SIGKILL',
  'worker SIGSTOP',
  'projection SIGKILL',
  'gateway SIGKILL',
  'NATS kill+restart',
  'Postgres restart',
] as const;
type FaultType = (typeof FAULT_TYPES)[number];

interface Submitted {
  readonly id: string;
  readonly kind: 'backtest' | 'optimization';
}

const requestOf = (kind: Submitted['kind'], n: number): unknown =>
  kind === 'backtest'
    ? {
        strategy: 'sma-crossover',
        params: { fast: 5 + (n % 10), slow: 40 },
        dataset: { synthetic: { bars: 300_000, seed: n, timeframe: '1m' } },
        maxRetries: 10,
      }
    : {
        strategy: 'sma-crossover',
        axes: { fast: { min: 2, max: 11, step: 1 }, slow: [30, 60] },
        dataset: { synthetic: { bars: 5_000, seed: n, timeframe: '1h' } },
        maxRetries: 10,
      };

async function main(): Promise<void> {
  const nats = await PrivateNats.start();
  const postgres = await PrivatePostgres.start();
  const env = { NATS_URL: nats.url, DATABASE_URL: postgres.url, LOG_LEVEL: 'error' };
  const sys = await TestSystem.start([], env);
  const faults = new Map<FaultType, number>(FAULT_TYPES.map((f) => [f, 0]));
  let max503Ms = 0;
  let catchUpMs = 0;
  try {
    await sys.spawn('projection', env);
    await sys.spawn('gateway', env);
    for (let i = 0; i < 3; i++) await sys.spawn('engine-worker', { ...env, ...WORKER_ENV });
    const alive = (name: ServiceProcess['name']) =>
      sys.processes.filter((p) => p.name === name && p.child.exitCode === null && p.child.signalCode === null);
    const gateway = () => alive('gateway')[0]?.url;

    // Submissions: each with an Idempotency-Key, retried with the same key while the answer is not a
    // 202 (a 503, a reset connection, no gateway): a 202 is the acknowledgement that must not be lost.
    const submitted: Submitted[] = [];
    let unavailableSince: number | undefined;
    const submitAll = async (): Promise<void> => {
      const kinds = Array.from({ length: RUNS_PER_KIND * 2 }, (_, n): Submitted['kind'] =>
        n % 2 ? 'optimization' : 'backtest',
      );
      for (const [n, kind] of kinds.entries()) {
        for (;;) {
          const url = gateway();
          const res = url
            ? await http<{ id: string }>(url, 'POST', `/api/${kind}s`, requestOf(kind, n), {
                'Idempotency-Key': `chaos-${SEED}-${n}`,
              }).catch(() => undefined)
            : undefined;
          if (res?.status === 202) {
            if (unavailableSince !== undefined) max503Ms = Math.max(max503Ms, performance.now() - unavailableSince);
            unavailableSince = undefined;
            submitted.push({ id: res.body.id, kind });
            break;
          }
          if (res && res.status !== 503)
            throw new Error(`submission ${n} answered ${res.status}: ${JSON.stringify(res.body)}`);
          unavailableSince ??= performance.now();
          await sleep(200);
        }
        await sleep(SUBMIT_INTERVAL_MS * (0.5 + random()));
      }
    };

    const inject = async (fault: FaultType): Promise<void> => {
      faults.set(fault, (faults.get(fault) ?? 0) + 1);
      switch (fault) {
        case 'worker SIGKILL': {
          const w = pick(alive('engine-worker'));
          await sys.kill(w);
          await sys.spawn('engine-worker', { ...env, ...WORKER_ENV });
          return;
        }
        case 'worker SIGSTOP': {
          const w = pick(alive('engine-worker'));
          w.child.kill('SIGSTOP');
          await sleep(1000 + random() * 8000);
          w.child.kill('SIGCONT');
          return;
        }
        case 'projection SIGKILL':
          for (const p of alive('projection')) await sys.kill(p);
          await sys.spawn('projection', env);
          return;
        case 'gateway SIGKILL':
          for (const g of alive('gateway')) await sys.kill(g);
          await sys.spawn('gateway', env);
          return;
        case 'NATS kill+restart':
          await nats.stop('SIGKILL');
          await sleep(500 + random() * 5000);
          await nats.start();
          return;
        case 'Postgres restart':
          await postgres.restart(random() < 0.5 ? 'fast' : 'immediate');
          return;
        default: {
          const never: never = fault;
          throw new Error(`unknown fault ${String(never)}`);
        }
      }
    };

    const submitting = submitAll();
    // Every type once per round of six, in a seeded order: a short soak injects each of them.
    let round: FaultType[] = [];
    for (let f = 0; f < FAULTS; f++) {
      await sleep(1000 + random() * (SHORT ? 4000 : 10_000));
      if (round.length === 0) round = [...FAULT_TYPES].sort(() => random() - 0.5);
      const fault = round.pop() as FaultType;
      console.log(`fault ${f + 1}/${FAULTS}: ${fault}`);
      await inject(fault);
    }
    await submitting;

    // Every accepted run reaches exactly one terminal event; the projection catches up.
    const nc = await connect({ servers: nats.url });
    try {
      const bus = new TestBus(nc, await jetstreamManager(nc), sys.iso.topology);
      for (const run of submitted) {
        await eventually(
          `run ${run.id} (${run.kind}) to end`,
          async () => (await bus.history(run.id)).filter((e) => isRunEnd(e.event)).length,
          (ends) => ends > 0,
          { timeoutMs: 600_000, intervalMs: 500 },
        );
      }
      const settled = performance.now();
      const projection = alive('projection')[0] as ServiceProcess;
      await eventually(
        'the projection to catch up',
        async () => (await http<{ lag: number }>(projection.url, 'GET', '/projection/lag')).body.lag,
        (lag) => lag === 0,
        { timeoutMs: CATCHUP_BOUND_S * 1000, intervalMs: 200 },
      );
      catchUpMs = performance.now() - settled;
      const problems: string[] = [];
      for (const run of submitted) {
        const history = await bus.history(run.id);
        const requested = history.filter((e) => e.event.type === 'RunRequested').length;
        const ends = history.filter((e) => isRunEnd(e.event));
        if (requested !== 1)
          problems.push(`${run.id}: ${requested} RunRequested (acknowledged submission lost or doubled)`);
        if (ends.length !== 1) problems.push(`${run.id}: ${ends.length} terminal events`);
        const end = ends[0];
        if (run.kind === 'optimization' && end?.event.type === 'RunCompleted') {
          const ids = new Set(
            history.filter((e) => e.seq < end.seq).flatMap((e) => trialOutcomesOf(e.event).map((o) => o.trialId)),
          );
          const status = (
            await http<{ completedCombinations: number; failedCombinations: number; totalCombinations: number }>(
              gateway() as string,
              'GET',
              `/api/optimizations/${run.id}/status`,
            )
          ).body;
          if (
            ids.size !== status.totalCombinations ||
            status.completedCombinations + status.failedCombinations !== ids.size
          )
            problems.push(
              `${run.id}: ${ids.size} distinct trials, read model ${status.completedCombinations}+${status.failedCombinations} of ${status.totalCombinations}`,
            );
        }
      }
      const verify = await promisify(execFile)(
        process.execPath,
        [path.join(ROOT, 'apps/projection/dist/cli/verify.js')],
        {
          cwd: ROOT,
          env: { ...process.env, ...sys.iso.env, ...env },
        },
      ).then(
        (r) => ({ code: 0, out: r.stdout }),
        (e: { code: number; stdout: string }) => ({ code: e.code, out: e.stdout }),
      );
      if (verify.code !== 0) problems.push(`verify: exit ${verify.code}\n${verify.out}`);

      const ended = { backtest: 0, optimization: 0 };
      for (const r of submitted) ended[r.kind] += 1;
      console.log(`\nchaos soak, seed ${SEED}${SHORT ? ' (short)' : ''}: single-node NATS + Postgres, both private`);
      console.log('| fault | injected |\n|---|---|');
      for (const [f, n] of faults) console.log(`| ${f} | ${n} |`);
      console.log(
        `\n| runs (backtest / optimization) | projection catch-up after the last run ended | max 503 window (submissions) | verify |\n|---|---|---|---|\n` +
          `| ${ended.backtest} / ${ended.optimization} | ${(catchUpMs / 1000).toFixed(1)} s | ${(max503Ms / 1000).toFixed(1)} s | ${verify.code === 0 ? 'equal' : 'DIFFERENT'} |`,
      );
      if (problems.length) {
        console.error(`\n${problems.length} problem(s):\n${problems.slice(0, 50).join('\n')}`);
        process.exitCode = 1;
      }
    } finally {
      await nc.close();
    }
  } finally {
    for (const p of sys.processes) p.child.kill('SIGCONT');
    await sys.stop().catch(() => undefined);
    await nats.destroy();
    await postgres.destroy();
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
