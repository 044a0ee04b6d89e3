/**
 * Projection throughput: publishes a synthetic history (BENCH_EVENTS, default 200,000 events over
 * runs of ~100 events: request, start, progress, logs, trials, terminal) into an isolated namespace,
 * then measures
 *   1. live: the built projection service (apps/projection/dist/main.js) catching up from zero,
 *      polled on GET /projection/lag (events/s from ready to lag 0);
 *   2. rebuild: `npm run rebuild` (apps/projection/dist/cli/rebuild.js) from sequence 1 while the
 *      live projection runs, swap included;
 *   3. verify: `npm run verify` must report the rebuilt rows equal to the replayed stream.
 *
 *   npm run bench:projection                     (= npm run build && node bench/dist/system/bench/src/projection.bench.js)
 *   BENCH_EVENTS=1000000 node bench/dist/system/bench/src/projection.bench.js
 */
import { spawn, execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import * as os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import { topology } from '@runforge/contracts';
import { provisionTopology } from '@runforge/messaging';
import { runMigrations } from '@runforge/read-models';
import { Client } from 'pg';
import { freePort, removeNamespace, ROOT } from '../../test/support/system';

const EVENTS = Number(process.env['BENCH_EVENTS'] ?? 200_000);
const NATS_URL = process.env['NATS_URL'] ?? 'nats://127.0.0.1:4222';
const DATABASE_URL = process.env['DATABASE_URL'] ?? 'postgres://postgres@127.0.0.1:5432/test';
const run = promisify(execFile);

const ns = `bench${randomBytes(4).toString('hex')}`;
const schema = `rf_${ns}`;
const t = topology(ns);
const env = { ...process.env, NATS_URL, DATABASE_URL, DB_SCHEMA: schema, RUNFORGE_NAMESPACE: ns, LOG_LEVEL: 'warn' };
const enc = new TextEncoder();

/** One run's events (about 100), as [subject token, envelope]. Valid against the contracts. */
function* runEvents(i: number, base: number): Generator<[string, Record<string, unknown>]> {
  const runId = `b${i.toString(36)}`;
  const at = (s: number): string => new Date(base + i * 1000 + s).toISOString();
  const env0 = (type: string, attempt: number, s: number, data: unknown) => ({
    type,
    version: 1,
    runId,
    occurredAt: at(s),
    attempt,
    data,
  });
  const optimization = i % 5 === 0;
  const bars = 100_000;
  const request = optimization
    ? {
        strategy: 'sma-crossover',
        axes: { fast: [5, 10, 15, 20, 25, 30, 35, 40, 45, 50], slow: [60, 100] },
        params: {},
        constraints: [],
        objective: { metric: 'sharpe', direction: 'maximize' },
        maxCombinations: 10_000,
        dataset: { synthetic: { bars, seed: i, timeframe: '1m' } },
        initialCapital: 10_000,
        commissionBps: 1,
        slippageBps: 0,
        positionFraction: 1,
        allowShort: false,
        maxRetries: 3,
        heartbeatSeconds: 2,
        priority: 'normal',
        timeoutSeconds: 3600,
      }
    : {
        strategy: 'sma-crossover',
        params: { fast: 10, slow: 30 },
        dataset: { synthetic: { bars, seed: i, timeframe: '1m' } },
        initialCapital: 10_000,
        commissionBps: 1,
        slippageBps: 0,
        positionFraction: 1,
        allowShort: false,
        maxRetries: 3,
        heartbeatSeconds: 2,
        priority: 'normal',
        timeoutSeconds: 600,
      };
  yield [
    'requested',
    env0('RunRequested', 0, 0, {
      kind: optimization ? 'optimization' : 'backtest',
      request,
      totalBars: bars,
      ...(optimization ? { totalCombinations: 20 } : {}),
      triggeredBy: i % 7 === 0 ? 'schedule' : 'api',
      ...(i % 7 === 0 ? { scheduleId: 'nightly' } : {}),
    }),
  ];
  yield ['started', env0('RunStarted', 1, 1, { workerId: 'w1', totalBars: bars })];
  for (let k = 1; k <= 50; k++) {
    yield ['bar_progressed', env0('BarProgressed', 1, 1 + k, { processedBars: k * 2000, totalBars: bars })];
    if (k % 2 === 0) {
      yield [
        'logged',
        env0('RunLogged', 1, 1 + k, {
          level: k % 10 === 0 ? 'WARNING' : 'INFO',
          message: `chunk ${k} done`,
          context: { k },
        }),
      ];
    }
  }
  if (optimization) {
    for (let k = 0; k < 20; k++) {
      const params = { fast: 5 + 5 * (k % 10), slow: k < 10 ? 60 : 100 };
      const common = { trialId: `${runId}-t${k}`, index: k, params, durationMs: 12, workerId: 'w1' };
      yield k % 9 === 8
        ? [
            'trial_failed',
            env0('TrialFailed', 1, 60 + k, {
              ...common,
              errorMessage: 'boom',
              errorStackTrace: 'Error: boom',
              fingerprint: 'f',
            }),
          ]
        : [
            'trial_completed',
            env0('TrialCompleted', 1, 60 + k, { ...common, metrics: { sharpe: k / 10 }, score: k / 10 }),
          ];
    }
  }
  if (i % 11 === 0) {
    yield ['failed', env0('RunFailed', 1, 90, { errorMessage: 'gave up', reason: 'attempts_exhausted' })];
  } else {
    const result = optimization
      ? { objective: { metric: 'sharpe', direction: 'maximize' }, best: null, top: [], failures: [] }
      : { metrics: { sharpe: 1.2, trades: 40 }, equityCurve: [{ t: 0, equity: 10_000 }], bars };
    yield ['completed', env0('RunCompleted', 1, 90, { durationMs: 900, processedBars: bars, result })];
  }
}

async function lagOf(url: string): Promise<{ streamSeq: number; appliedSeq: number; lag: number } | undefined> {
  try {
    const r = await fetch(`${url}/projection/lag`);
    return r.ok ? ((await r.json()) as { streamSeq: number; appliedSeq: number; lag: number }) : undefined;
  } catch {
    return undefined;
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function main(): Promise<void> {
  console.log(
    `projection bench: ${EVENTS} events, namespace ${ns}, ${os.cpus().length} CPU(s) ${os.cpus()[0]?.model ?? ''}`,
  );
  const nc = await connect({ servers: NATS_URL });
  const pg = new Client({ connectionString: DATABASE_URL });
  await pg.connect();
  let projection: ReturnType<typeof spawn> | undefined;
  try {
    await provisionTopology(nc, t);
    const js = jetstream(nc);
    await runMigrations({ databaseUrl: DATABASE_URL, dbSchema: schema });

    // 1. Publish (pipelined, no msg id: dedup is not what is measured).
    const base = Date.parse('2026-01-01T00:00:00Z');
    let published = 0;
    let runs = 0;
    const inFlight = new Set<Promise<unknown>>();
    const t0 = Date.now();
    outer: for (let i = 0; ; i++) {
      runs += 1;
      for (const [token, e] of runEvents(i, base)) {
        const p = js.publish(t.runSubject(e.runId as string, token), enc.encode(JSON.stringify(e)));
        inFlight.add(p);
        void p.finally(() => inFlight.delete(p));
        published += 1;
        if (inFlight.size >= 4000) await Promise.race(inFlight);
        if (published >= EVENTS) break outer;
      }
    }
    await Promise.all(inFlight);
    const publishS = (Date.now() - t0) / 1000;
    console.log(
      `published ${published} events of ${runs} runs in ${publishS.toFixed(1)} s (${Math.round(published / publishS)} events/s)`,
    );

    // 2. Live projection catching up from zero.
    const port = await freePort();
    const url = `http://127.0.0.1:${port}`;
    projection = spawn(process.execPath, [path.join(ROOT, 'apps/projection/dist/main.js')], {
      cwd: ROOT,
      env: { ...env, PORT: String(port), HTTP_HOST: '127.0.0.1' },
      stdio: ['ignore', 'ignore', 'inherit'],
    });
    let ready: number | undefined;
    let lastLog = Date.now();
    for (;;) {
      const l = await lagOf(url);
      if (l && ready === undefined) ready = Date.now();
      if (l && l.lag === 0 && l.appliedSeq >= published) break;
      if (l && Date.now() - lastLog > 5000) {
        console.log(`  live: applied ${l.appliedSeq}/${l.streamSeq}`);
        lastLog = Date.now();
      }
      if (projection.exitCode !== null) throw new Error('projection exited');
      await sleep(50);
    }
    const liveS = (Date.now() - (ready ?? t0)) / 1000;
    const liveRate = Math.round(published / liveS);
    console.log(`live projection: ${published} events in ${liveS.toFixed(2)} s → ${liveRate} events/s`);

    // 3. Rebuild from sequence 1 while the live projection runs.
    const r0 = Date.now();
    const rebuilt = await run(process.execPath, [path.join(ROOT, 'apps/projection/dist/cli/rebuild.js')], {
      cwd: ROOT,
      env,
      maxBuffer: 1 << 24,
    });
    const rebuildS = (Date.now() - r0) / 1000;
    const summary = rebuilt.stdout.trim().split('\n').pop() ?? '';
    console.log(`rebuild: ${summary}`);
    console.log(
      `rebuild (wall, process start included): ${rebuildS.toFixed(2)} s → ${Math.round(published / rebuildS)} events/s`,
    );

    // 4. Verify the rebuilt rows against an independent in-memory fold.
    const v0 = Date.now();
    const verified = await run(process.execPath, [path.join(ROOT, 'apps/projection/dist/cli/verify.js')], {
      cwd: ROOT,
      env,
      maxBuffer: 1 << 24,
    }).then(
      (r) => ({ code: 0, out: r.stdout }),
      (e: { code: number; stdout: string }) => ({ code: e.code, out: e.stdout }),
    );
    console.log(
      `verify (${((Date.now() - v0) / 1000).toFixed(1)} s, exit ${verified.code}): ${verified.out.trim().split('\n').slice(-1)[0] ?? ''}`,
    );
    console.log(
      JSON.stringify({
        events: published,
        runs,
        publishEventsPerS: Math.round(published / publishS),
        liveEventsPerS: liveRate,
        rebuildSeconds: rebuildS,
        rebuildEventsPerS: Math.round(published / rebuildS),
        verifyExit: verified.code,
      }),
    );
  } finally {
    if (projection && projection.exitCode === null) {
      const exited = new Promise((r) => projection?.once('exit', r));
      projection.kill('SIGTERM');
      await Promise.race([exited, sleep(5000)]);
      if (projection.exitCode === null) projection.kill('SIGKILL');
    }
    await removeNamespace(await jetstreamManager(nc), pg, ns, schema);
    await pg.end();
    await nc.close();
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
