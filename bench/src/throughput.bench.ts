/**
 * Short jobs at queue speed (#21): N short backtests (1,000 bars each) submitted through the REST API
 * to the built services as real processes (gateway, projection, one engine worker; test/support
 * TestSystem in an isolated namespace + schema), by 1 client and then by 8 concurrent clients.
 *
 * For each phase it prints:
 *   - jobs/s from the first POST to the last RunCompleted received (a core subscription to the run
 *     subjects sees each event as the stream stores it);
 *   - POST latency (until the 202 answer) p50/p99;
 *   - POST → RunCompleted seen p50/p99;
 *   - POST → the status endpoint reads Completed, and RunCompleted seen → status reads Completed (the
 *     projection's lag), p50/p99, on every SAMPLE-th run (polled every 2 ms from the moment its
 *     RunCompleted is seen, so polling only costs during the lag itself; every 5th run by 1 client,
 *     every 20th by 8, whose lag is longer: the polls are counted, and their CPU is in the figures);
 *   - CPU seconds per service (and per 1,000 jobs), events per run.
 * Then, at idle (one request at a time, nothing running): POST p50/p99 and GET status p50/p99.
 * Afterwards every run must have ended Completed with a complete history, and `npm run verify` must
 * find the read models equal to the stream — the bench fails otherwise. Then, for scale, the same
 * jobs on BullMQ + the local Redis (a dev dependency; one worker process, concurrency 8), by 1 and
 * by 8 clients (BENCH_BULLMQ=0 skips it).
 *
 *   npm run bench:throughput
 *   BENCH_JOBS_1=300 BENCH_JOBS_8=1000 BENCH_SAMPLE=10 node bench/dist/system/bench/src/throughput.bench.js
 */
import { fork, spawn } from 'node:child_process';
import { Socket } from 'node:net';
import { Queue, QueueEvents } from 'bullmq';
import path from 'node:path';
import { cpus } from 'node:os';
import { connect } from '@nats-io/transport-node';
import { parseRunSubject } from '@runforge/contracts';

import { eventually } from '../../test/support/eventually';
import { DATABASE_URL, http, NATS_URL, ROOT, TestSystem, type ServiceName } from '../../test/support/system';
import { percentile, printMachine, wallMs } from './support/bench-report';
import { CpuMeter, pidsNamed, syscallsOf, systemCpuMeter } from './support/cpu';
import { measureFloor, type FloorFigures } from './support/floor';

const JOBS_1 = Number(process.env['BENCH_JOBS_1'] ?? 300);
const JOBS_8 = Number(process.env['BENCH_JOBS_8'] ?? 1000);
/** Every how many runs the status is polled until it reads Completed, by 1 client and by 8. */
const SAMPLE_1 = Number(process.env['BENCH_SAMPLE'] ?? 5);
const SAMPLE_8 = Number(process.env['BENCH_SAMPLE'] ?? 20);
/** Status requests the bench made to see runs Completed (the polling's own cost is in the CPU figures). */
let statusPolls = 0;
const IDLE_REQUESTS = Number(process.env['BENCH_IDLE_REQUESTS'] ?? 200);
const WARMUP = Number(process.env['BENCH_WARMUP'] ?? 30);
const BARS = Number(process.env['BENCH_BARS'] ?? 1000);
const TERMINAL_TOKENS = new Set(['completed', 'failed', 'cancelled']);
/** The same workload on BullMQ + the local Redis, side by side (0 skips it). */
const BULLMQ = process.env['BENCH_BULLMQ'] !== '0';
const REDIS = { host: '127.0.0.1', port: Number(process.env['REDIS_PORT'] ?? 6379) };
/** What the parts of a job cost on this machine, in the same run (support/floor.ts; 0 skips it). */
const FLOOR = process.env['BENCH_FLOOR'] !== '0';

const backtest = (seed: number) => ({
  strategy: 'sma-crossover',
  params: { fast: 10, slow: 30 },
  dataset: { synthetic: { bars: BARS, seed, timeframe: '1m' } },
});

interface Seen {
  events: number;
  terminal?: { token: string; at: number };
  resolve?: () => void;
}

/** Every event of the namespace's runs, as it is stored: per run, how many, and its terminal event's time. */
class RunWatch {
  readonly runs = new Map<string, Seen>();

  seen(runId: string): Seen {
    let s = this.runs.get(runId);
    if (!s) this.runs.set(runId, (s = { events: 0 }));
    return s;
  }

  onEvent(runId: string, token: string): void {
    const s = this.seen(runId);
    s.events++;
    if (TERMINAL_TOKENS.has(token) && !s.terminal) {
      s.terminal = { token, at: wallMs() };
      s.resolve?.();
    }
  }

  ended(runId: string): Promise<{ token: string; at: number }> {
    const s = this.seen(runId);
    if (s.terminal) return Promise.resolve(s.terminal);
    return new Promise((resolve) => {
      s.resolve = () => resolve(s.terminal as { token: string; at: number });
    });
  }
}

/** Cumulative bucket counts of a Prometheus histogram on a service's /metrics (le → count). */
async function histogram(url: string, name: string): Promise<Map<number, number>> {
  const text = await (await fetch(`${url}/metrics`)).text();
  const buckets = new Map<number, number>();
  for (const line of text.split('\n')) {
    const m = new RegExp(`^${name}_bucket\\{.*le="([^"]+)".*\\} (\\d+)`).exec(line);
    if (m) buckets.set(m[1] === '+Inf' ? Number.POSITIVE_INFINITY : Number(m[1]), Number(m[2]));
  }
  return buckets;
}

/** The bucket bound (ms) under which a share `p` of the observations between two scrapes fell. */
function bucketQuantile(before: Map<number, number>, after: Map<number, number>, p: number): string {
  const bounds = [...after.keys()].sort((a, b) => a - b);
  const total = (after.get(Number.POSITIVE_INFINITY) ?? 0) - (before.get(Number.POSITIVE_INFINITY) ?? 0);
  if (total === 0) return 'n/a';
  for (const le of bounds) {
    if ((after.get(le) ?? 0) - (before.get(le) ?? 0) >= p * total)
      return le === Number.POSITIVE_INFINITY ? '> max bucket' : `≤ ${le * 1000} ms`;
  }
  return 'n/a';
}

const DELAY_HISTOGRAM = 'runforge_projection_event_delay_seconds';

interface PhaseResult {
  clients: number;
  jobs: number;
  seconds: number;
  post: number[];
  completed: number[];
  visible: number[];
  lag: number[];
  events: number[];
  /** Every how many runs the status was polled until Completed, and how many polls that took. */
  sample: number;
  polls: number;
  cpu: Record<string, number>;
  /** Read + write system calls per process group (Postgres' short-lived backends not counted). */
  syscalls: Record<string, number>;
  failed: number;
  /** The projection's own stored → committed delay of every event (its histogram), p50 and p99. */
  applied: [string, string];
}

async function submit(sys: TestSystem, seed: number): Promise<{ id: string; postedAt: number; postMs: number }> {
  const postedAt = wallMs();
  const r = await http<{ id: string }>(sys.gateway.url, 'POST', '/api/backtests', backtest(seed));
  const postMs = wallMs() - postedAt;
  if (r.status !== 202) throw new Error(`submit answered ${r.status}: ${JSON.stringify(r.body)}`);
  return { id: r.body.id, postedAt, postMs };
}

/** Polls the status endpoint every 2 ms until it reads Completed; returns when it did. */
async function visibleCompleted(sys: TestSystem, id: string): Promise<number> {
  const s = await eventually(
    `status of ${id} to read Completed`,
    () => (statusPolls++, http<{ status: string }>(sys.gateway.url, 'GET', `/api/backtests/${id}/status`)),
    (r) => r.status === 200 && r.body.status === 'Completed',
    { timeoutMs: 60_000, intervalMs: 2 },
  );
  void s;
  return wallMs();
}

async function phase(
  sys: TestSystem,
  watch: RunWatch,
  meter: () => CpuMeter,
  clients: number,
  jobs: number,
  seedBase: number,
): Promise<PhaseResult> {
  const post: number[] = [];
  const completed: number[] = [];
  const visible: number[] = [];
  const lag: number[] = [];
  const ids: string[] = [];
  let failed = 0;
  let next = 0;
  const projection = sys.processes.find((q) => q.name === 'projection')?.url ?? '';
  const delayBefore = await histogram(projection, DELAY_HISTOGRAM);
  const sample = clients === 1 ? SAMPLE_1 : SAMPLE_8;
  const pollsBefore = statusPolls;
  const m = meter();
  const benchCpuBefore = process.cpuUsage();
  const benchCallsBefore = syscallsOf('self') ?? 0;
  m.start();
  const t0 = wallMs();
  const pending: Promise<void>[] = [];
  await Promise.all(
    Array.from({ length: clients }, async () => {
      while (next < jobs) {
        const n = next++;
        const { id, postedAt, postMs } = await submit(sys, seedBase + n);
        ids.push(id);
        post.push(postMs);
        pending.push(
          (async () => {
            const end = await watch.ended(id);
            if (end.token !== 'completed') failed++;
            completed.push(end.at - postedAt);
            if (n % sample === 0 && end.token === 'completed') {
              const at = await visibleCompleted(sys, id);
              visible.push(at - postedAt);
              lag.push(at - end.at);
            }
          })(),
        );
      }
    }),
  );
  await Promise.all(pending);
  const lastEnd = Math.max(...ids.map((id) => watch.seen(id).terminal?.at ?? 0));
  const cpu = m.stop();
  const benchCpu = process.cpuUsage(benchCpuBefore);
  cpu['bench (clients + polling)'] = (benchCpu.user + benchCpu.system) / 1e6;
  const syscalls = { ...m.syscalls, 'bench (clients + polling)': (syscallsOf('self') ?? 0) - benchCallsBefore };
  // Every event committed by now (the last runs' RunCompleted were read back as Completed above,
  // on the sampled runs; the rest are waited for here).
  await eventually(
    'the projection to commit every event of the phase',
    () => http<{ lag: number }>(projection, 'GET', '/projection/lag'),
    (r) => r.body.lag === 0,
    { timeoutMs: 60_000, intervalMs: 20 },
  );
  const delayAfter = await histogram(projection, DELAY_HISTOGRAM);
  return {
    applied: [bucketQuantile(delayBefore, delayAfter, 0.5), bucketQuantile(delayBefore, delayAfter, 0.99)],
    clients,
    jobs,
    seconds: (lastEnd - t0) / 1000,
    post,
    completed,
    visible,
    lag,
    events: ids.map((id) => watch.seen(id).events),
    sample,
    polls: statusPolls - pollsBefore,
    cpu,
    syscalls,
    failed,
  };
}

async function idle(
  sys: TestSystem,
  watch: RunWatch,
): Promise<{ post: number[]; status: number[]; lag: number[]; applied: [string, string] }> {
  const projection = sys.processes.find((q) => q.name === 'projection')?.url ?? '';
  const delayBefore = await histogram(projection, DELAY_HISTOGRAM);
  const lag: number[] = [];
  const post: number[] = [];
  const status: number[] = [];
  let last = '';
  for (let i = 0; i < IDLE_REQUESTS; i++) {
    // One at a time, each after the previous one ended and its read model caught up: an idle system.
    const { id, postMs } = await submit(sys, 900_000 + i);
    post.push(postMs);
    const end = await watch.ended(id);
    lag.push((await visibleCompleted(sys, id)) - end.at);
    last = id;
  }
  const delayAfter = await histogram(projection, DELAY_HISTOGRAM);
  for (let i = 0; i < IDLE_REQUESTS; i++) {
    const t = wallMs();
    const r = await http(sys.gateway.url, 'GET', `/api/backtests/${last}/status`);
    status.push(wallMs() - t);
    if (r.status !== 200) throw new Error(`status answered ${r.status}`);
  }
  return {
    post,
    status,
    lag,
    applied: [bucketQuantile(delayBefore, delayAfter, 0.5), bucketQuantile(delayBefore, delayAfter, 0.99)],
  };
}

function verify(sys: TestSystem): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [path.join(ROOT, 'apps/projection/dist/cli/verify.js')], {
      cwd: ROOT,
      env: { ...process.env, ...sys.iso.env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (c: Buffer) => (output += c.toString()));
    child.stderr.on('data', (c: Buffer) => (output += c.toString()));
    child.once('exit', (code) => resolve({ code, output }));
  });
}

function redisUp(): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = new Socket();
    socket.once('connect', () => (socket.destroy(), resolve(true)));
    socket.once('error', () => resolve(false));
    socket.connect(REDIS.port, REDIS.host);
  });
}

interface QueueResult {
  clients: number;
  jobs: number;
  seconds: number;
  add: number[];
  completed: number[];
  cpu: Record<string, number>;
}

/**
 * The comparison: the same backtests as BullMQ jobs (Queue.add by 1 or 8 concurrent clients; one
 * worker process with concurrency 8, bench/src/support/bullmq-worker.ts), timed from the first add
 * to the last `completed` seen on QueueEvents.
 */
async function bullmqPhase(clients: number, jobs: number): Promise<QueueResult> {
  const name = `rf-bench-${process.pid}-${clients}`;
  const worker = fork(path.join(__dirname, 'support', 'bullmq-worker.js'), [name], { stdio: 'ignore' });
  await new Promise<void>((resolve, reject) => {
    worker.once('message', () => resolve());
    worker.once('exit', (code) => reject(new Error(`bullmq worker exited ${code}`)));
  });
  const queue = new Queue(name, { connection: REDIS });
  const events = new QueueEvents(name, { connection: REDIS });
  await events.waitUntilReady();
  const addedAt = new Map<string, number>();
  const done = new Map<string, number>();
  let all: () => void = () => undefined;
  const finished = new Promise<void>((resolve) => (all = resolve));
  events.on('completed', ({ jobId }) => {
    done.set(jobId, wallMs());
    if (done.size === jobs) all();
  });
  const meter = new CpuMeter({
    'bullmq worker': () => [worker.pid ?? -1],
    'redis-server': () => pidsNamed('redis-server'),
  });
  const add: number[] = [];
  let next = 0;
  const benchCpuBefore = process.cpuUsage();
  meter.start();
  const t0 = wallMs();
  await Promise.all(
    Array.from({ length: clients }, async () => {
      while (next < jobs) {
        const n = next++;
        const t = wallMs();
        const job = await queue.add('backtest', { bars: BARS, seed: n }, { removeOnComplete: false });
        add.push(wallMs() - t);
        addedAt.set(job.id as string, t);
      }
    }),
  );
  await finished;
  const seconds = (Math.max(...done.values()) - t0) / 1000;
  const cpu = meter.stop();
  const benchCpu = process.cpuUsage(benchCpuBefore);
  cpu['bench (clients)'] = (benchCpu.user + benchCpu.system) / 1e6;
  const completed = [...done.entries()].map(([id, at]) => at - (addedAt.get(id) ?? at));
  worker.kill('SIGTERM');
  await events.close();
  await queue.obliterate({ force: true });
  await queue.close();
  return { clients, jobs, seconds, add, completed, cpu };
}

function printQueue(r: QueueResult): void {
  const cpuTotal = Object.values(r.cpu).reduce((a, b) => a + b, 0);
  console.log(`\n## BullMQ + Redis, ${r.clients} client${r.clients > 1 ? 's' : ''}, ${r.jobs} jobs (same backtest)`);
  console.log(`jobs/s (first add → last completed): ${(r.jobs / r.seconds).toFixed(0)}  (${r.seconds.toFixed(2)} s)`);
  console.log(`| figure (ms) | p50 / p99 |`);
  console.log(`| --- | --- |`);
  console.log(`| Queue.add | ${p(r.add)} |`);
  console.log(`| add → completed | ${p(r.completed)} |`);
  console.log(
    `CPU s: ${Object.entries(r.cpu)
      .map(([k, v]) => `${k} ${v.toFixed(2)}`)
      .join(', ')}; total ${cpuTotal.toFixed(2)} (${((cpuTotal * 1000) / r.jobs).toFixed(2)} ms per job)`,
  );
}

const f1 = (x: number): string => (x >= 100 ? x.toFixed(0) : x.toFixed(1));
const p = (xs: number[]): string => `${f1(percentile(xs, 50))} / ${f1(percentile(xs, 99))}`;

function print(r: PhaseResult): void {
  const cpuTotal = Object.values(r.cpu).reduce((a, b) => a + b, 0);
  console.log(`\n## ${r.clients} client${r.clients > 1 ? 's' : ''}, ${r.jobs} backtests of ${BARS} bars`);
  console.log(
    `jobs/s (first POST → last RunCompleted): ${(r.jobs / r.seconds).toFixed(0)}  (${r.seconds.toFixed(2)} s)`,
  );
  console.log(`| figure (ms) | p50 / p99 |`);
  console.log(`| --- | --- |`);
  console.log(`| POST → 202 | ${p(r.post)} |`);
  console.log(`| POST → RunCompleted stored | ${p(r.completed)} |`);
  console.log(
    `| POST → status reads Completed (every ${r.sample}th run; ${(r.polls / r.jobs).toFixed(1)} polls per job) | ${p(r.visible)} |`,
  );
  console.log(`| RunCompleted stored → status reads Completed (projection lag + a status read) | ${p(r.lag)} |`);
  console.log(
    `| any event stored → committed to the read models (projection's histogram, bucket bound) | ${r.applied[0]} / ${r.applied[1]} |`,
  );
  console.log(`events per run: ${p(r.events)} (p50 / p99)`);
  const callsTotal = Object.values(r.syscalls).reduce((a, b) => a + b, 0);
  console.log(`| process | CPU s | CPU ms per job | system calls per job (read + write) |`);
  console.log(`| --- | --- | --- | --- |`);
  for (const [k, v] of Object.entries(r.cpu))
    console.log(
      `| ${k} | ${v.toFixed(2)} | ${((v * 1000) / r.jobs).toFixed(2)} | ${((r.syscalls[k] ?? 0) / r.jobs).toFixed(0)} |`,
    );
  console.log(
    `| total | ${cpuTotal.toFixed(2)} | ${((cpuTotal * 1000) / r.jobs).toFixed(2)} | ${(callsTotal / r.jobs).toFixed(0)} |`,
  );
  if (r.failed) console.log(`!! ${r.failed} runs did not complete`);
}

/**
 * The floor beside the system: a short job is at least one HTTP request, its events and its dispatch
 * each stored (a publish) and delivered once (to the projection, the dispatch to a worker), and one
 * read-model transaction (a projection batch holds several jobs' events under load, so this
 * undercounts nothing). On these cores, those parts alone allow at most `cores × 1,000 ÷ floor`
 * jobs a second, whatever RunForge's own code costs.
 */
function printFloor(f: FloorFigures, eight: PhaseResult): void {
  const events = percentile(eight.events, 50);
  const floor = f.httpPost + (events + 1) * (f.jsPublish + f.jsDelivery) + f.pgTransaction;
  const measured = (Object.values(eight.cpu).reduce((a, b) => a + b, 0) * 1000) / eight.jobs;
  const cores = cpus().length;
  const ms = (x: number): string => x.toFixed(2);
  console.log(`\n## the floor: what a job's parts cost on this machine now (CPU ms, client + server, 8 in flight)`);
  console.log(`| part | CPU ms each | per job (8-client phase: ${events} events + the dispatch) |`);
  console.log(`| --- | --- | --- |`);
  console.log(`| HTTP POST answered 202 by bare Fastify | ${ms(f.httpPost)} | ${ms(f.httpPost)} (×1) |`);
  console.log(
    `| JetStream publish, acked (300 B, file stream) | ${ms(f.jsPublish)} | ${ms((events + 1) * f.jsPublish)} (×${events + 1}) |`,
  );
  console.log(
    `| JetStream delivery to a pull consumer, acked | ${ms(f.jsDelivery)} | ${ms((events + 1) * f.jsDelivery)} (×${events + 1}) |`,
  );
  console.log(`| Postgres transaction, one 300 B insert | ${ms(f.pgTransaction)} | ${ms(f.pgTransaction)} (×1) |`);
  console.log(
    `| **floor of a job** | | **${ms(floor)}** → at most ${Math.floor((cores * 1000) / floor)} jobs/s on ${cores} cores |`,
  );
  console.log(
    `RunForge's measured CPU per job (8 clients): ${ms(measured)} ms = ${(measured / floor).toFixed(1)}× the floor → ${((cores * 1000) / measured).toFixed(0)} jobs/s if the cores were the only limit (measured ${(eight.jobs / eight.seconds).toFixed(0)})`,
  );
}

async function main(): Promise<void> {
  printMachine(`bench:throughput — short backtests (${BARS} bars) through the REST API`);
  const services: ServiceName[] = ['gateway', 'projection', 'engine-worker'];
  // Thousands of submissions a minute from one key: above the gateway's default abuse limit.
  const sys = await TestSystem.start(services, { RUNFORGE_RATE_LIMIT_MAX: '1000000' });
  const nc = await connect({ servers: NATS_URL });
  const watch = new RunWatch();
  const sub = nc.subscribe(`${sys.iso.namespace}.runs.*.*`, {
    callback: (err, msg) => {
      if (err) return;
      const parsed = parseRunSubject(sys.iso.topology, msg.subject);
      if (parsed) watch.onEvent(parsed.runId, parsed.eventToken);
    },
  });
  const meter = (): CpuMeter => systemCpuMeter(sys);
  let ok = false;
  try {
    if (WARMUP) await phase(sys, watch, meter, 4, WARMUP, 500_000);
    const one = await phase(sys, watch, meter, 1, JOBS_1, 1);
    print(one);
    const eight = await phase(sys, watch, meter, 8, JOBS_8, 100_000);
    print(eight);
    const quiet = await idle(sys, watch);
    console.log(`\n## idle (one request at a time, nothing running)`);
    console.log(`| request (ms) | p50 / p99 |`);
    console.log(`| --- | --- |`);
    console.log(`| POST /api/backtests → 202 | ${p(quiet.post)} |`);
    console.log(`| GET /api/backtests/:id/status | ${p(quiet.status)} |`);
    console.log(`| RunCompleted stored → status reads Completed | ${p(quiet.lag)} |`);
    console.log(
      `| any event stored → committed (projection's histogram, bucket bound) | ${quiet.applied[0]} / ${quiet.applied[1]} |`,
    );

    if (BULLMQ && (await redisUp())) {
      printQueue(await bullmqPhase(1, JOBS_1));
      printQueue(await bullmqPhase(8, JOBS_8));
    } else if (BULLMQ) console.log(`\n(BullMQ comparison skipped: no Redis on ${REDIS.host}:${REDIS.port})`);

    if (FLOOR) printFloor(await measureFloor(NATS_URL, DATABASE_URL), eight);

    const notCompleted = [...watch.runs.entries()].filter(([, s]) => s.terminal?.token !== 'completed');
    const v = await verify(sys);
    console.log(`\nverify: ${v.output.trim().split('\n').slice(-1)[0]}`);
    if (notCompleted.length > 0) throw new Error(`${notCompleted.length} runs did not complete`);
    if (v.code !== 0) throw new Error(`verify found differences:\n${v.output}`);
    ok = one.failed === 0 && eight.failed === 0;
  } finally {
    sub.unsubscribe();
    await nc.close();
    await sys.stop();
  }
  process.exitCode = ok ? 0 : 1;
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
