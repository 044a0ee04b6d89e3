/**
 * Chaos soak (issue #20): the built services as processes against private nats-servers and a
 * private Postgres that this script starts, stops and restarts itself (the machine's shared servers
 * are never touched), running every kind — backtests, optimizations, the program kind `battery-dp`
 * and the energy models DMO / RMO / SO — while faults are injected at seeded random moments, in two
 * phases:
 *   single  — one nats-server: worker SIGKILL, worker SIGSTOP (then SIGCONT), projection SIGKILL
 *             (restarted), gateway SIGKILL (restarted), NATS kill -9 and restart, Postgres restart
 *             (clean or crash);
 *   cluster — a 3-node NATS cluster, streams with 3 replicas (NATS_STREAM_REPLICAS=3), the services
 *             given the three URLs: the same faults, with the NATS one as kill -9 and restart of the
 *             RUNS stream's leader, of the WORK stream's leader (each read from the stream's cluster
 *             info at that moment), or of any node.
 * After each fault is healed (the process restarted, the server back, the worker resumed) it
 * measures the projection's catch-up (until it has applied everything the stream held at that
 * moment) and the gateway's longest unready stretch around the fault (its /health/ready polled
 * every 100 ms: a 503 or no answer). After each phase it asserts: every accepted run reached exactly
 * one terminal event; every optimization that completed counted each trial once; `npm run verify`
 * equal over the whole stream; no acknowledged (202) submission lost; every catch-up within
 * CHAOS_CATCHUP_BOUND_S. It prints the tables (faults by type with catch-up and 503 window, runs by
 * kind) for RELIABILITY.md.
 *
 *   npm run chaos                 (100 runs of each kind per phase: 200 per kind; CHAOS_SEED,
 *                                  CHAOS_RUNS (per kind and phase), CHAOS_FAULTS (per phase),
 *                                  CHAOS_PHASES=single,cluster)
 *   npm run chaos -- --short      (1.5–5 minutes: the single phase small, every fault once; the
 *                                  cluster phase with the RUNS stream's leader killed once)
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import path from 'node:path';
import { jetstreamManager } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/nats-core';
import { connect } from '@nats-io/transport-node';
import { isRunEnd, trialOutcomesOf } from '@runforge/contracts';
import { natsServers } from '@runforge/messaging';
import { TestBus } from '../../test/support/bus';
import { TEST_ASSET } from '../../test/support/energy';
import { eventually } from '../../test/support/eventually';
import { PrivateNats, PrivateNatsCluster, PrivatePostgres } from '../../test/support/private-servers';
import { http, ROOT, TestSystem, type ServiceProcess } from '../../test/support/system';

const SHORT = process.argv.includes('--short');
const SEED = Number(process.env.CHAOS_SEED ?? 20);
const PHASES = (process.env.CHAOS_PHASES ?? 'single,cluster').split(',') as Phase[];
const CATCHUP_BOUND_S = Number(process.env.CHAOS_CATCHUP_BOUND_S ?? 60);
const WORKER_ENV = {
  RUNFORGE_TEST_CHUNK_DELAY_MS: '5',
  RUNFORGE_PROGRAM_KINDS: path.join(ROOT, 'examples/programs/kinds.yaml'),
};

type Phase = 'single' | 'cluster';

interface PhasePlan {
  readonly runsPerKind: number;
  readonly faults: number;
  /** Mean gap between submissions (each waits 0.5–1.5 times it). */
  readonly submitIntervalMs: number;
  /** The fault types of the phase, each once per round in a seeded order. */
  readonly faultTypes: readonly FaultType[];
}

const COMMON_FAULTS = [
  'worker SIGKILL',
  'worker SIGSTOP',
  'projection SIGKILL',
  'gateway SIGKILL',
  'Postgres restart',
] as const;
const CLUSTER_NATS_FAULTS = [
  'NATS RUNS leader kill+restart',
  'NATS WORK leader kill+restart',
  'NATS node kill+restart',
] as const;
type FaultType = (typeof COMMON_FAULTS)[number] | 'NATS kill+restart' | (typeof CLUSTER_NATS_FAULTS)[number];

const env = (name: string, fallback: number): number => Number(process.env[name] ?? fallback);

function planOf(phase: Phase): PhasePlan {
  if (phase === 'single')
    return {
      runsPerKind: env('CHAOS_RUNS', SHORT ? 5 : 100),
      faults: env('CHAOS_FAULTS', SHORT ? 6 : 30),
      submitIntervalMs: env('CHAOS_SUBMIT_INTERVAL_MS', SHORT ? 900 : 300),
      faultTypes: [...COMMON_FAULTS, 'NATS kill+restart'],
    };
  // The short cluster phase: one kill of the RUNS stream's leader, the fault only a cluster has
  // (every service reads or writes RUNS; the long soak kills the WORK leader and any node too).
  return SHORT
    ? {
        runsPerKind: env('CHAOS_RUNS', 2),
        faults: env('CHAOS_FAULTS', 1),
        submitIntervalMs: env('CHAOS_SUBMIT_INTERVAL_MS', 900),
        faultTypes: ['NATS RUNS leader kill+restart'],
      }
    : {
        runsPerKind: env('CHAOS_RUNS', 100),
        faults: env('CHAOS_FAULTS', 32),
        submitIntervalMs: env('CHAOS_SUBMIT_INTERVAL_MS', 300),
        faultTypes: [...COMMON_FAULTS, ...CLUSTER_NATS_FAULTS],
      };
}

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

const ATTEMPT_EVENTS = new Set([
  'RunRequested',
  'RunStarted',
  'RunAttemptAbandoned',
  'RunCompleted',
  'RunFailed',
  'RunCancelled',
]);
const KINDS = ['backtest', 'optimization', 'battery-dp', 'dmo', 'rmo', 'so'] as const;
type Kind = (typeof KINDS)[number];

interface Submitted {
  readonly id: string;
  readonly kind: Kind;
}

/** The data sources the energy runs plan over: DMO runs once a day per source, so each DMO run has its own. */
interface Sources {
  readonly dmo: readonly string[];
  readonly shared: string;
}

function requestOf(kind: Kind, n: number, sources: Sources): Record<string, unknown> {
  switch (kind) {
    case 'backtest':
      return {
        kind,
        strategy: 'sma-crossover',
        params: { fast: 5 + (n % 10), slow: 40 },
        dataset: { synthetic: { bars: 300_000, seed: n, timeframe: '1m' } },
        maxRetries: 10,
      };
    case 'optimization':
      return {
        kind,
        strategy: 'sma-crossover',
        axes: { fast: { min: 2, max: 11, step: 1 }, slow: [30, 60] },
        dataset: { synthetic: { bars: 5_000, seed: n, timeframe: '1h' } },
        maxRetries: 10,
      };
    case 'battery-dp':
      return { kind, params: { hours: 48, seed: n } };
    case 'dmo':
      return { kind, data_source_id: sources.dmo[Math.floor(n / KINDS.length)], triggered_by: 'chaos' };
    case 'rmo':
      return { kind, data_source_id: sources.shared, intervals: 32, triggered_by: 'chaos' };
    case 'so':
      return { kind, data_source_id: sources.shared, triggered_by: 'chaos' };
    default: {
      const never: never = kind;
      throw new Error(`unknown kind ${String(never)}`);
    }
  }
}

interface RunFigures {
  accepted: number;
  refused409: number;
  ended: Record<string, number>;
  /** Runs with more than one attempt (a worker lost mid-run, the run handed to another). */
  retried: number;
  /** The longest from RunRequested stored to the terminal event stored. */
  longestMs: number;
  /** That run's attempt events, `type +seconds`, to tell where its time went. */
  longestTimeline: string;
}
/** What a phase measured, for the tables. */
interface FaultFigures {
  injected: number;
  maxCatchUpMs: number;
  max503Ms: number;
}
interface PhaseResult {
  readonly phase: Phase;
  readonly faults: Map<FaultType, FaultFigures>;
  readonly runs: Map<Kind, RunFigures>;
  readonly maxSubmission503Ms: number;
  readonly startFailures: number;
  readonly verifyEqual: boolean;
  readonly problems: string[];
}

/** The private NATS of a phase: one server, or a 3-node cluster. */
interface PhaseNats {
  readonly servers: string[];
  readonly url: string;
  readonly nodes: readonly PrivateNats[];
  destroy(): Promise<void>;
}

async function startNats(phase: Phase): Promise<PhaseNats> {
  if (phase === 'single') {
    const n = await PrivateNats.start();
    return { servers: [n.url], url: n.url, nodes: [n], destroy: () => n.destroy() };
  }
  const c = await PrivateNatsCluster.start(3);
  return { servers: natsServers(c.url), url: c.url, nodes: c.nodes, destroy: () => c.destroy() };
}

/**
 * The gateway's readiness, polled every 100 ms: the stretches it was not ready (a 503, no answer
 * within a second, no gateway), so a fault's 503 window is read off them.
 */
class ReadinessProbe {
  readonly windows: { start: number; end: number }[] = [];
  private since?: number;
  private stopped = false;
  private done?: Promise<void>;

  constructor(private readonly gatewayUrl: () => string | undefined) {}

  start(): void {
    this.done = (async () => {
      while (!this.stopped) {
        const url = this.gatewayUrl();
        const ok = url
          ? await fetch(`${url}/health/ready`, { signal: AbortSignal.timeout(1000) }).then(
              (r) => r.status === 200,
              () => false,
            )
          : false;
        const now = performance.now();
        if (!ok) this.since ??= now;
        else if (this.since !== undefined) {
          this.windows.push({ start: this.since, end: now });
          this.since = undefined;
        }
        await sleep(100);
      }
    })();
  }

  /** The longest unready stretch that began in [from, to] (one still open counts up to `to`). */
  longestIn(from: number, to: number): number {
    const open = this.since !== undefined ? [{ start: this.since, end: to }] : [];
    return Math.max(
      0,
      ...[...this.windows, ...open].filter((w) => w.start >= from && w.start <= to).map((w) => w.end - w.start),
    );
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await this.done;
  }
}

async function runPhase(phase: Phase, postgres: PrivatePostgres): Promise<PhaseResult> {
  const nats = await startNats(phase);
  try {
    // The soak's own connection (histories, stream info, leaders): to every node, reconnecting for ever.
    const nc = await connect({ servers: nats.servers, maxReconnectAttempts: -1, reconnectTimeWait: 250 });
    try {
      return await soak(phase, nats, nc, postgres);
    } finally {
      await nc.close().catch(() => undefined);
    }
  } finally {
    await nats.destroy();
  }
}

async function soak(
  phase: Phase,
  nats: PhaseNats,
  nc: NatsConnection,
  postgres: PrivatePostgres,
): Promise<PhaseResult> {
  const plan = planOf(phase);
  const t0 = performance.now();
  const log = (what: string): void => console.log(`${phase} +${seconds(performance.now() - t0)}: ${what}`);
  const serviceEnv = {
    NATS_URL: nats.url,
    DATABASE_URL: postgres.url,
    LOG_LEVEL: 'error',
    NATS_STREAM_REPLICAS: phase === 'cluster' ? '3' : '1',
    RUNFORGE_PROGRAM_KINDS: WORKER_ENV.RUNFORGE_PROGRAM_KINDS,
    // Every submission and source of the soak comes from one key: no rate limit in the way.
    RUNFORGE_RATE_LIMIT_MAX: '100000',
  };
  const sys = await TestSystem.start([], serviceEnv);
  const faults = new Map<FaultType, FaultFigures>(
    plan.faultTypes.map((f) => [f, { injected: 0, maxCatchUpMs: 0, max503Ms: 0 }]),
  );
  const problems: string[] = [];
  let maxSubmission503Ms = 0;
  /** Restarted services that died at start and were started again. */
  let startFailures = 0;
  const jsm = await jetstreamManager(nc);
  const topology = sys.iso.topology;
  const probe = new ReadinessProbe(() => alive('gateway')[0]?.url);
  function alive(name: ServiceProcess['name']): ServiceProcess[] {
    return sys.processes.filter((p) => p.name === name && p.child.exitCode === null && p.child.signalCode === null);
  }
  try {
    await sys.spawn('projection', serviceEnv);
    await sys.spawn('gateway', serviceEnv);
    for (let i = 0; i < 3; i++) await sys.spawn('engine-worker', { ...serviceEnv, ...WORKER_ENV });
    const gateway = () => alive('gateway')[0]?.url;
    if (phase === 'cluster') {
      const replicas = (await jsm.streams.info(topology.streams.runs.name)).config.num_replicas;
      if (replicas !== 3) throw new Error(`the RUNS stream has ${replicas} replicas in the cluster phase, not 3`);
    }

    log('services ready');
    const sources = await createSources(gateway() as string, plan.runsPerKind);
    log(`${plan.runsPerKind + 1} data sources created`);
    probe.start();

    // Submissions: each with an Idempotency-Key, retried with the same key while the answer is not a
    // 202 (a 503, a reset connection, no gateway): a 202 is the acknowledgement that must not be lost.
    // A 409 is the kind's window refusing a run (a correct answer, counted, not retried).
    const submitted: Submitted[] = [];
    const refused409 = new Map<Kind, number>(KINDS.map((k) => [k, 0]));
    let unavailableSince: number | undefined;
    const submitAll = async (): Promise<void> => {
      for (let n = 0; n < plan.runsPerKind * KINDS.length; n++) {
        const kind = KINDS[n % KINDS.length] as Kind;
        for (;;) {
          const url = gateway();
          const res = url
            ? await http<{ id: string }>(url, 'POST', '/api/runs', requestOf(kind, n, sources), {
                'Idempotency-Key': `chaos-${SEED}-${phase}-${n}`,
              }).catch(() => undefined)
            : undefined;
          if (res?.status === 202 || res?.status === 409) {
            if (unavailableSince !== undefined)
              maxSubmission503Ms = Math.max(maxSubmission503Ms, performance.now() - unavailableSince);
            unavailableSince = undefined;
            if (res.status === 202) submitted.push({ id: res.body.id, kind });
            else refused409.set(kind, (refused409.get(kind) ?? 0) + 1);
            break;
          }
          if (res && res.status !== 503)
            throw new Error(`submission ${n} (${kind}) answered ${res.status}: ${JSON.stringify(res.body)}`);
          unavailableSince ??= performance.now();
          await sleep(200);
        }
        await sleep(plan.submitIntervalMs * (0.5 + random()));
      }
    };

    const leaderOf = async (stream: string): Promise<PrivateNats> => {
      const info = await eventually(
        `${stream}'s cluster leader`,
        () => jsm.streams.info(stream),
        (i) => Boolean(i.cluster?.leader),
        { timeoutMs: 30_000, intervalMs: 200 },
      );
      const node = nats.nodes.find((n) => n.name === info.cluster?.leader);
      if (!node) throw new Error(`${stream}'s leader ${info.cluster?.leader} is no node of the cluster`);
      return node;
    };
    const killAndRestart = async (node: PrivateNats): Promise<void> => {
      await node.stop('SIGKILL');
      await sleep(500 + random() * 5000);
      await node.start();
    };

    /**
     * Starts a service again after a kill, as `npm start` (or any supervisor) does: one that dies at
     * start (a NATS request timing out while the cluster elects leaders) is started again 1 s later.
     */
    const restart = async (name: ServiceProcess['name'], env: NodeJS.ProcessEnv): Promise<void> => {
      for (let attempt = 1; ; attempt++) {
        try {
          await sys.spawn(name, env);
          return;
        } catch (err) {
          startFailures += 1;
          const why = /Error: [^\n]*/.exec((err as Error).message)?.[0] ?? (err as Error).message.slice(0, 200);
          log(`${name} died at start (attempt ${attempt}): ${why}`);
          if (attempt === 5) throw err;
          await sleep(1000);
        }
      }
    };

    /** Injects the fault and heals it (restarts what it killed, resumes what it froze). */
    const inject = async (fault: FaultType): Promise<void> => {
      switch (fault) {
        case 'worker SIGKILL': {
          const w = pick(alive('engine-worker'));
          await sys.kill(w);
          await restart('engine-worker', { ...serviceEnv, ...WORKER_ENV });
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
          await restart('projection', serviceEnv);
          return;
        case 'gateway SIGKILL':
          for (const g of alive('gateway')) await sys.kill(g);
          await restart('gateway', serviceEnv);
          return;
        case 'NATS kill+restart':
          return killAndRestart(nats.nodes[0] as PrivateNats);
        case 'NATS RUNS leader kill+restart':
          return killAndRestart(await leaderOf(topology.streams.runs.name));
        case 'NATS WORK leader kill+restart':
          return killAndRestart(await leaderOf(topology.streams.work.name));
        case 'NATS node kill+restart':
          return killAndRestart(pick(nats.nodes));
        case 'Postgres restart':
          return postgres.restart(random() < 0.5 ? 'fast' : 'immediate');
        default: {
          const never: never = fault;
          throw new Error(`unknown fault ${String(never)}`);
        }
      }
    };

    /**
     * From the heal to the projection having applied everything the stream held at that moment
     * (under continuing load the lag is seldom exactly 0; this is lag 0 as of the heal).
     */
    const catchUp = async (fault: FaultType): Promise<number> => {
      const healed = performance.now();
      const info = await eventually(
        'the RUNS stream info after the heal',
        () => jsm.streams.info(topology.streams.runs.name),
        () => true,
        { timeoutMs: CATCHUP_BOUND_S * 1000, intervalMs: 100 },
      );
      const target = info.state.last_seq;
      try {
        await eventually(
          `the projection to apply up to ${target}`,
          async () => {
            const p = alive('projection')[0];
            if (!p) throw new Error('no projection');
            return (await http<{ appliedSeq: number }>(p.url, 'GET', '/projection/lag')).body.appliedSeq;
          },
          (applied) => applied >= target,
          { timeoutMs: CATCHUP_BOUND_S * 1000, intervalMs: 100 },
        );
      } catch (err) {
        problems.push(`after ${fault}: ${(err as Error).message}`);
      }
      return performance.now() - healed;
    };

    const submitting = submitAll();
    let round: FaultType[] = [];
    for (let f = 0; f < plan.faults; f++) {
      await sleep(1000 + random() * (SHORT ? 3000 : 8000));
      if (round.length === 0) round = [...plan.faultTypes].sort(() => random() - 0.5);
      const fault = round.pop() as FaultType;
      const figures = faults.get(fault) as FaultFigures;
      figures.injected += 1;
      const started = performance.now();
      log(`fault ${f + 1}/${plan.faults}: ${fault}`);
      await inject(fault);
      const catchUpMs = await catchUp(fault);
      log(`healed; the projection caught up in ${seconds(catchUpMs)}`);
      figures.maxCatchUpMs = Math.max(figures.maxCatchUpMs, catchUpMs);
      figures.max503Ms = Math.max(figures.max503Ms, probe.longestIn(started, performance.now()));
    }
    await submitting;
    log(`${submitted.length} runs accepted`);

    // Every accepted run reaches exactly one terminal event; the projection catches up.
    const bus = new TestBus(nc, jsm, topology);
    for (const run of submitted) {
      await eventually(
        `run ${run.id} (${run.kind}) to end`,
        async () => (await bus.history(run.id)).filter((e) => isRunEnd(e.event)).length,
        (ends) => ends > 0,
        { timeoutMs: 600_000, intervalMs: 500 },
      );
    }
    log('every run ended');
    const last = (await jsm.streams.info(topology.streams.runs.name)).state.last_seq;
    await eventually(
      'the projection to apply the whole stream',
      async () => {
        const p = alive('projection')[0];
        if (!p) throw new Error('no projection');
        return (await http<{ lag: number; appliedSeq: number }>(p.url, 'GET', '/projection/lag')).body;
      },
      (l) => l.lag === 0 && l.appliedSeq >= last,
      { timeoutMs: CATCHUP_BOUND_S * 1000, intervalMs: 200 },
    );
    const runs = new Map<Kind, RunFigures>(
      KINDS.map((k) => [
        k,
        { accepted: 0, refused409: refused409.get(k) ?? 0, ended: {}, retried: 0, longestMs: 0, longestTimeline: '' },
      ]),
    );
    for (const run of submitted) {
      const history = await bus.history(run.id);
      const requested = history.filter((e) => e.event.type === 'RunRequested').length;
      const ends = history.filter((e) => isRunEnd(e.event));
      if (requested !== 1)
        problems.push(`${run.id}: ${requested} RunRequested (acknowledged submission lost or doubled)`);
      if (ends.length !== 1) problems.push(`${run.id}: ${ends.length} terminal events`);
      const end = ends[0];
      const counts = runs.get(run.kind) as RunFigures;
      counts.accepted += 1;
      if (history.filter((e) => e.event.type === 'RunStarted').length > 1) counts.retried += 1;
      if (end) {
        counts.ended[end.event.type] = (counts.ended[end.event.type] ?? 0) + 1;
        const first = history[0];
        const took = first ? Date.parse(end.storedAt) - Date.parse(first.storedAt) : 0;
        if (first && took > counts.longestMs) {
          counts.longestMs = took;
          const at = (storedAt: string) => seconds(Date.parse(storedAt) - Date.parse(first.storedAt));
          counts.longestTimeline = `${run.id}: ${history
            .filter((e) => ATTEMPT_EVENTS.has(e.event.type))
            .map((e) => `${e.event.type}#${e.event.attempt} +${at(e.storedAt)}`)
            .join(', ')}`;
        }
      }
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
      { cwd: ROOT, env: { ...process.env, ...sys.iso.env, ...serviceEnv } },
    ).then(
      (r) => ({ code: 0, out: r.stdout }),
      (e: { code: number; stdout: string }) => ({ code: e.code, out: e.stdout }),
    );
    if (verify.code !== 0) problems.push(`${phase} verify: exit ${verify.code}\n${verify.out}`);
    const result = { phase, faults, runs, maxSubmission503Ms, startFailures, verifyEqual: verify.code === 0, problems };
    printTables(result);
    return result;
  } finally {
    await probe.stop();
    for (const p of sys.processes) p.child.kill('SIGCONT');
    await sys.stop().catch(() => undefined);
  }
}

/** A shared data source for RMO and SO, and one per DMO run (DMO runs once a day per source). */
async function createSources(gatewayUrl: string, dmoRuns: number): Promise<Sources> {
  const create = async (seed: number): Promise<string> => {
    const r = await http<{ id: string }>(gatewayUrl, 'POST', '/api/energy/sources', {
      name: `chaos battery ${seed}`,
      asset: TEST_ASSET,
      synthetic: { seed, days: 4 },
    });
    if (r.status !== 201) throw new Error(`POST /api/energy/sources answered ${r.status}: ${JSON.stringify(r.body)}`);
    return r.body.id;
  };
  const shared = await create(1);
  const dmo: string[] = [];
  for (let i = 0; i < dmoRuns; i++) dmo.push(await create(100 + i));
  return { dmo, shared };
}

const seconds = (ms: number): string => `${(ms / 1000).toFixed(1)} s`;

function printTables(r: PhaseResult): void {
  console.log(`\nchaos soak, seed ${SEED}${SHORT ? ' (short)' : ''}, ${r.phase} phase: private NATS + Postgres`);
  console.log('\n| phase | fault | injected | max catch-up | max 503 window |\n|---|---|---|---|---|');
  for (const [f, x] of r.faults)
    console.log(`| ${r.phase} | ${f} | ${x.injected} | ${seconds(x.maxCatchUpMs)} | ${seconds(x.max503Ms)} |`);
  console.log(
    '\n| phase | kind | accepted | refused (409) | Completed | Failed | Cancelled | retried | longest (requested → ended) |\n|---|---|---|---|---|---|---|---|---|',
  );
  for (const [k, x] of r.runs)
    console.log(
      `| ${r.phase} | ${k} | ${x.accepted} | ${x.refused409} | ${x.ended.RunCompleted ?? 0} | ${x.ended.RunFailed ?? 0} | ${x.ended.RunCancelled ?? 0} | ${x.retried} | ${seconds(x.longestMs)} |`,
    );
  console.log('\nthe longest run of each kind, its attempts:');
  for (const [k, x] of r.runs) if (x.longestTimeline) console.log(`${r.phase} ${k}: ${x.longestTimeline}`);
  console.log(
    '\n| phase | max 503 window (submissions) | services that died at start (restarted) | verify |\n|---|---|---|---|',
  );
  console.log(
    `| ${r.phase} | ${seconds(r.maxSubmission503Ms)} | ${r.startFailures} | ${r.verifyEqual ? 'equal' : 'DIFFERENT'} |`,
  );
}

async function main(): Promise<void> {
  const postgres = await PrivatePostgres.start();
  const results: PhaseResult[] = [];
  const t0 = performance.now();
  try {
    for (const phase of PHASES) {
      const started = performance.now();
      results.push(await runPhase(phase, postgres));
      console.log(`${phase} phase: ${seconds(performance.now() - started)}`);
    }
  } finally {
    await postgres.destroy();
  }
  console.log(`\nwhole soak: ${seconds(performance.now() - t0)}`);
  const problems = results.flatMap((r) => r.problems);
  if (problems.length) {
    console.error(`\n${problems.length} problem(s):\n${problems.slice(0, 50).join('\n')}`);
    process.exitCode = 1;
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
