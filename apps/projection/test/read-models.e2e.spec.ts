import { TestBus } from '../../../test/support/bus';
import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import { jetstreamManager, type JetStreamManager } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/nats-core';
import { connect } from '@nats-io/transport-node';
import { createEvent } from '@runforge/contracts';

import { Client } from 'pg';
import { eventually } from '../../../test/support/eventually';
import { DATABASE_URL, http, NATS_URL, TestSystem, type ServiceProcess } from '../../../test/support/system';
import { rebuildReadModels } from '../src/rebuild/rebuild';
import { WRITE_FENCE_LOCK } from '../src/runs/projection.consumer';
import { verifyReadModels } from '../src/rebuild/verify';
import { at, publishCompletedBacktest, publishCraftedHistory, type Crafted } from './crafted-history';

jest.setTimeout(120_000);

const ROOT = path.resolve(__dirname, '../../..');
const run = promisify(execFile);

interface Lag {
  streamSeq: number;
  appliedSeq: number;
  lag: number;
}
interface Page {
  items: { id: string; status: string; requestedAt: string; failureReason: string | null }[];
  nextCursor: string | null;
}
interface LogPage {
  items: { seq: number; level: string; message: string }[];
  nextCursor: string | null;
}

describe('read models: listing, logs, audit history, lag, rebuild and verify', () => {
  let sys: TestSystem;
  let nc: NatsConnection;
  let jsm: JetStreamManager;
  let bus: TestBus;
  let crafted: Crafted;
  let projection: ServiceProcess;
  const gw = (): string => sys.gateway.url;
  const target = () => ({ databaseUrl: DATABASE_URL, dbSchema: sys.iso.schema, topology: sys.iso.topology });
  const cli = (script: string, args: string[] = []) =>
    run(process.execPath, [path.join(ROOT, 'apps/projection/dist/cli', `${script}.js`), ...args], {
      cwd: ROOT,
      env: { ...process.env, ...sys.iso.env },
    }).then(
      (r) => ({ code: 0, stdout: r.stdout }),
      (e: { code: number; stdout: string }) => ({ code: e.code, stdout: e.stdout }),
    );
  const caughtUp = () =>
    eventually(
      'the projection to catch up with the stream',
      async () => (await http<Lag>(projection.url, 'GET', '/projection/lag')).body,
      (l) => l.streamSeq > 0 && l.lag === 0,
      { timeoutMs: 20_000 },
    );

  beforeAll(async () => {
    // No idle re-read of live streams within a test's time: a stream that ends did so on the events.
    sys = await TestSystem.start(['gateway', 'projection'], { SSE_IDLE_REFRESH_MS: '600000' });
    projection = sys.processes.find((p) => p.name === 'projection') as ServiceProcess;
    nc = await connect({ servers: NATS_URL });
    jsm = await jetstreamManager(nc);
    bus = new TestBus(nc, jsm, sys.iso.topology);
    crafted = await publishCraftedHistory(bus, 'rm');
    await caughtUp();
  });

  afterAll(async () => {
    await nc?.close();
    await sys?.stop();
  });

  it('exposes its lag on /projection/lag and in /health/ready', async () => {
    const lag = await http<Lag>(projection.url, 'GET', '/projection/lag');
    expect(lag.body).toEqual({ streamSeq: crafted.count, appliedSeq: crafted.count, lag: 0, leader: true });
    const ready = await http<{ lag: Lag; status: string }>(projection.url, 'GET', '/health/ready');
    expect(ready.body.status).toBe('ready');
    expect(ready.body.lag).toMatchObject({ lag: 0, appliedSeq: crafted.count });
  });

  it('folds retries, stale attempts, cancellations and redelivered trials as expected', async () => {
    const get = async (id: string) => (await http<Record<string, unknown>>(gw(), 'GET', `/api/runs/${id}`)).body;
    expect(await get(crafted.ids.retried)).toMatchObject({
      status: 'Completed',
      attempt: 2,
      processedBars: 1000,
      workerId: 'w2',
    });
    expect(await get(crafted.ids.cancelledPending)).toMatchObject({ status: 'Cancelled', startedAt: null });
    expect(await get(crafted.ids.cancelledRunning)).toMatchObject({ status: 'Cancelled', processedBars: 400 });
    expect(await get(crafted.ids.optimization)).toMatchObject({
      kind: 'optimization',
      status: 'Completed',
      completedCombinations: 2,
      failedCombinations: 1,
    });
    const trials = await http<{ items: { index: number }[] }>(
      gw(),
      'GET',
      `/api/runs/${crafted.ids.optimization}/trials`,
    );
    expect(trials.body.items.map((t) => t.index)).toEqual([0, 1, 2]);
    const ofBacktest = await http<{ message: string }>(gw(), 'GET', `/api/runs/${crafted.ids.completed}/trials`);
    expect(ofBacktest.status).toBe(404);
    expect(ofBacktest.body.message).toBe(
      `run "${crafted.ids.completed}" is a backtest: only optimizations have trials`,
    );
    expect(await get(crafted.ids.deadLetter)).toMatchObject({ status: 'Failed', failureReason: 'attempts_exhausted' });
  });

  it('lists newest first with stable keyset pages, filters, and 400s naming the parameter', async () => {
    const all = await http<Page>(gw(), 'GET', '/api/runs');
    expect(all.status).toBe(200);
    const ids = all.body.items.map((r) => r.id);
    expect(ids).toHaveLength(8);
    expect(ids[0]).toBe(crafted.ids.scheduled); // same time as chatty; id desc breaks the tie
    expect(ids[1]).toBe(crafted.ids.chatty);
    expect(ids[ids.length - 1]).toBe(crafted.ids.completed);

    // Page by 3; a newer run arriving meanwhile does not shift the pages.
    const first = await http<Page>(gw(), 'GET', '/api/runs?limit=3');
    await bus.publish(
      createEvent(
        'RunRequested',
        { runId: 'rm-newcomer', attempt: 0, occurredAt: at(1000) },
        {
          kind: 'backtest',
          request: {
            strategy: 'sma-crossover',
            params: { fast: 1, slow: 2 },
            dataset: { synthetic: { bars: 10, seed: 1, timeframe: '1m' } },
          },
          totalBars: 10,
          triggeredBy: 'manual',
        },
      ),
    );
    await caughtUp();
    const paged = [...first.body.items.map((r) => r.id)];
    let cursor = first.body.nextCursor;
    while (cursor) {
      const p = await http<Page>(gw(), 'GET', `/api/runs?limit=3&cursor=${cursor}`);
      expect(p.status).toBe(200);
      paged.push(...p.body.items.map((r) => r.id));
      cursor = p.body.nextCursor;
    }
    expect(paged).toEqual(ids);

    const dead = await http<Page>(gw(), 'GET', '/api/runs?status=Failed&reason=attempts_exhausted');
    expect(dead.body.items.map((r) => r.id)).toEqual([crafted.ids.deadLetter]);
    const cancelled = await http<Page>(gw(), 'GET', '/api/runs?status=Cancelled,Failed&kind=backtest');
    expect(cancelled.body.items.map((r) => r.id).sort()).toEqual(
      [crafted.ids.cancelledPending, crafted.ids.cancelledRunning, crafted.ids.deadLetter].sort(),
    );
    const scheduled = await http<Page>(gw(), 'GET', `/api/runs?scheduleId=rm-daily&triggeredBy=schedule`);
    expect(scheduled.body.items.map((r) => r.id)).toEqual([crafted.ids.scheduled]);
    const window = await http<Page>(gw(), 'GET', `/api/runs?from=${at(10)}&to=${at(40)}`);
    expect(window.body.items.map((r) => r.id)).toEqual([
      crafted.ids.cancelledRunning,
      crafted.ids.cancelledPending,
      crafted.ids.retried,
    ]);
    const optim = await http<Page>(gw(), 'GET', '/api/runs?kind=optimization');
    expect(optim.body.items.map((r) => r.id)).toEqual([crafted.ids.optimization]);
    // Every crafted run is an sma-crossover: a list of strategies matches any of them.
    const byStrategy = await http<Page>(gw(), 'GET', '/api/runs?strategy=rsi-reversion,sma-crossover&limit=500');
    const everyRun = await http<Page>(gw(), 'GET', '/api/runs?limit=500');
    expect(byStrategy.body.items.map((r) => r.id)).toEqual(everyRun.body.items.map((r) => r.id));
    expect(byStrategy.body.items.length).toBeGreaterThan(8);
    expect((await http<Page>(gw(), 'GET', '/api/runs?strategy=rsi-reversion')).body.items).toEqual([]);

    for (const [qs, field] of [
      ['status=Done', 'status'],
      ['limit=501', 'limit'],
      ['limit=0', 'limit'],
      ['kind=job', 'kind'],
      ['from=yesterday', 'from'],
      ['cursor=garbage', 'cursor'],
      ['reason=bored', 'reason'],
      ['strategy=sma-crosover', 'strategy'],
      ['colour=red', 'colour'],
    ] as const) {
      const bad = await http<{ statusCode: number; issues: { field: string; reason: string }[] }>(
        gw(),
        'GET',
        `/api/runs?${qs}`,
      );
      expect(bad.status).toBe(400);
      expect(bad.body.issues.map((i) => i.field)).toContain(field);
    }
  });

  it('serves a run with its latest 100 logs, and its logs paged and filtered by minimum level', async () => {
    const details = await http<{ id: string; logs: { seq: number; message: string }[] }>(
      gw(),
      'GET',
      `/api/runs/${crafted.ids.chatty}`,
    );
    expect(details.status).toBe(200);
    expect(details.body.logs).toHaveLength(100);
    expect(details.body.logs[99]?.message).toBe('line 119');
    expect(details.body.logs[0]?.message).toBe('line 20');

    const errors = await http<LogPage>(gw(), 'GET', `/api/runs/${crafted.ids.chatty}/logs?level=ERROR&limit=50`);
    expect(errors.body.items).toHaveLength(30);
    expect(new Set(errors.body.items.map((l) => l.level))).toEqual(new Set(['ERROR']));
    expect(errors.body.nextCursor).toBeNull();

    const warnUp: LogPage['items'] = [];
    let cursor: string | null = '';
    do {
      const p: { body: LogPage } = await http<LogPage>(
        gw(),
        'GET',
        `/api/runs/${crafted.ids.chatty}/logs?level=warning&limit=7${cursor ? `&cursor=${cursor}` : ''}`,
      );
      warnUp.push(...p.body.items);
      cursor = p.body.nextCursor;
    } while (cursor);
    expect(warnUp).toHaveLength(60);
    expect(new Set(warnUp.map((l) => l.level))).toEqual(new Set(['WARNING', 'ERROR']));
    for (let i = 1; i < warnUp.length; i++) expect(warnUp[i]!.seq).toBeGreaterThan(warnUp[i - 1]!.seq);

    expect((await http(gw(), 'GET', `/api/runs/${crafted.ids.chatty}/logs?level=LOUD`)).status).toBe(400);
    expect((await http(gw(), 'GET', `/api/runs/nope/logs`)).status).toBe(404);
    const missing = await http(gw(), 'GET', '/api/runs/does-not-exist');
    expect(missing.status).toBe(404);
    expect(missing.body).toMatchObject({ statusCode: 404, error: 'Not Found' });
  });

  it('answers the audit history in stream order, and a fast 404 for an unknown run', async () => {
    const r = await http<{ events: { seq: number; type: string; version: number; attempt: number; data: unknown }[] }>(
      gw(),
      'GET',
      `/api/runs/${crafted.ids.retried}/events`,
    );
    expect(r.status).toBe(200);
    expect(r.body.events.map((e) => `${e.type}@${e.attempt}`)).toEqual([
      'RunRequested@0',
      'RunStarted@1',
      'BarProgressed@1',
      'RunAttemptAbandoned@0',
      'RunLogged@2',
      'RunStarted@2',
      'BarProgressed@2',
      'BarProgressed@1',
      'RunFailed@1',
      'RunCompleted@2',
    ]);
    for (let i = 1; i < r.body.events.length; i++)
      expect(r.body.events[i]!.seq).toBeGreaterThan(r.body.events[i - 1]!.seq);
    expect((await http(gw(), 'GET', '/api/runs/unknown-run/events')).status).toBe(404);
    expect(await bus.history('unknown-run')).toEqual([]);

    const replay = await cli('replay', [crafted.ids.retried]);
    expect(replay.code).toBe(0);
    expect(replay.stdout).toContain(`run ${crafted.ids.retried}: 10 event(s)`);
    expect(replay.stdout).toMatch(/RunAttemptAbandoned\s+1\s+0\s+attempt 1 abandoned \(heartbeat_lost\)/);
    expect((await cli('replay', ['unknown-run'])).code).toBe(1);
  });

  it('rebuilds from sequence 1 while live and the API answers; verify finds replay equal to live', async () => {
    const pg = new Client({ connectionString: DATABASE_URL });
    await pg.connect();
    try {
      // Damage a live row: verify must see it, the rebuild must repair it.
      await pg.query(`UPDATE "${sys.iso.schema}".runs SET processed_bars = 1 WHERE id = $1`, [crafted.ids.retried]);
      const damaged = await verifyReadModels(target(), nc);
      expect(damaged.differences).toEqual([
        { runId: crafted.ids.retried, field: 'processedBars', live: 1, replayed: 1000 },
      ]);
      expect((await cli('verify')).code).toBe(1);

      const answers: number[] = [];
      const stats = await rebuildReadModels(
        target(),
        { nc, jsm },
        {
          batchSize: 7,
          beforeSwap: async () => {
            // Events arriving during the rebuild are applied by the live projection and by the swap's tail.
            await bus.publish(
              createEvent(
                'RunLogged',
                { runId: crafted.ids.completed, attempt: 1, occurredAt: at(5) },
                { level: 'ERROR', message: 'late' },
              ),
              { discriminator: 'late' },
            );
            answers.push((await http(gw(), 'GET', '/api/runs?limit=1')).status);
          },
        },
      );
      expect(answers).toEqual([200]);
      expect(stats.events).toBe(crafted.count + 2);
      expect(stats.runs).toBe(9);
      await caughtUp();
      const report = await verifyReadModels(target(), nc);
      expect(report.differences).toEqual([]);
      expect(report.runs).toBe(9);
      expect(
        (await http<Record<string, unknown>>(gw(), 'GET', `/api/runs/${crafted.ids.retried}`)).body.processedBars,
      ).toBe(1000);

      // The live projection keeps applying on the swapped-in tables.
      await bus.publish(
        createEvent(
          'RunLogged',
          { runId: crafted.ids.completed, attempt: 1, occurredAt: at(6) },
          { level: 'ERROR', message: 'after swap' },
        ),
        { discriminator: 'after-swap' },
      );
      const logs = await eventually(
        'the log line published after the swap to be projected',
        async () =>
          (await http<LogPage>(gw(), 'GET', `/api/runs/${crafted.ids.completed}/logs?level=ERROR`)).body.items,
        (items) => items.length === 2,
      );
      expect(logs.map((l) => l.message)).toEqual(['late', 'after swap']);
      const verified = await cli('verify');
      expect(verified.stdout).toContain('read models equal the replayed stream');
      expect(verified.code).toBe(0);
    } finally {
      await pg.end();
    }
  });
  it('a rebuild racing a steady flow of events neither loses nor doubles any of them', async () => {
    const flow = 300;
    // A running optimization takes the flow's trials (an ended run's counts are final).
    const live = 'rm-optim-live';
    const meta = (attempt: number) => ({ runId: live, attempt, occurredAt: at(69) });
    await bus.publish(
      createEvent('RunRequested', meta(0), {
        kind: 'optimization',
        request: {
          strategy: 'sma-crossover',
          axes: { fast: { min: 1, max: 400, step: 1 }, slow: [1000] },
          dataset: { synthetic: { bars: 500, seed: 2, timeframe: '1h' } },
        },
        totalBars: 500,
        totalCombinations: 400,
        triggeredBy: 'api',
      }),
    );
    await bus.publish(createEvent('RunStarted', meta(1), { workerId: 'w9', totalBars: 500 }));
    let published = 0;
    const publisher = (async () => {
      for (let i = 0; i < flow; i++) {
        await bus.publish(
          createEvent(
            'RunLogged',
            { runId: crafted.ids.chatty, attempt: 1, occurredAt: at(70) },
            { level: 'INFO', message: `flow ${i}` },
          ),
          { discriminator: `flow-${i}` },
        );
        await bus.publish(
          createEvent(
            'TrialCompleted',
            { runId: live, attempt: 1, occurredAt: at(70) },
            {
              trialId: `${live}-flow${i}`,
              index: 100 + i,
              params: { fast: i, slow: 1000 },
              metrics: { sharpe: 0 },
              score: 0,
              durationMs: 1,
              workerId: 'w9',
            },
          ),
          { discriminator: `flow-${i}` },
        );
        published += 2;
      }
    })();
    const rebuilds: number[] = [];
    // Rebuild (small batches, so it overlaps the flow) until the publisher is done, at least twice.
    while (rebuilds.length < 2 || published < 2 * flow) {
      rebuilds.push((await rebuildReadModels(target(), { nc, jsm }, { batchSize: 5 })).swapMs);
      if (rebuilds.length > 20) break;
    }
    await publisher;
    await caughtUp();
    const report = await verifyReadModels(target(), nc);
    expect(report.differences).toEqual([]);
    const optim = (await http<Record<string, unknown>>(gw(), 'GET', `/api/runs/${live}`)).body;
    expect(optim).toMatchObject({ status: 'Running', completedCombinations: flow });
    const logs = await http<LogPage>(gw(), 'GET', `/api/runs/${crafted.ids.chatty}/logs?level=DEBUG&limit=1000`);
    expect(logs.body.items.filter((l) => l.message.startsWith('flow '))).toHaveLength(flow);
  });

  it('a live stream opened after a run ended but before it was projected ends as soon as it is, not at the idle refresh', async () => {
    // A run that ends within milliseconds: every event is on the stream before the viewer subscribes,
    // and the read model has none of them yet (the write fence holds the projection back, as a
    // rebuild's swap would). No event follows, so only re-reads can show the end.
    const fence = new Client({ connectionString: DATABASE_URL });
    await fence.connect();
    const controller = new AbortController();
    try {
      await fence.query('BEGIN');
      await fence.query('SELECT pg_advisory_xact_lock($1, hashtext($2))', [WRITE_FENCE_LOCK, sys.iso.schema]);
      await publishCompletedBacktest(bus, 'sse-late');
      const res = await sys.fetch('/api/runs/sse-late/stream', { signal: controller.signal });
      const reader = (res.body as ReadableStream<Uint8Array>).getReader();
      const decoder = new TextDecoder();
      let text = '';
      while (!text.includes('event: snapshot')) text += decoder.decode((await reader.read()).value, { stream: true });
      expect(text).toContain('"status":"Pending"');
      await fence.query('COMMIT');
      // The gateway's idle refresh is 10 minutes here: the stream can only end through its re-reads
      // of a run whose end is on the stream but not yet projected (otherwise the test times out).
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        text += decoder.decode(value, { stream: true });
      }
      expect(text).toMatch(/event: snapshot\nid: \d+\ndata: \{[^\n]*"status":"Completed"/);
      expect(text).toContain('event: end');
    } finally {
      controller.abort();
      await fence.query('ROLLBACK').catch(() => undefined);
      await fence.end();
    }
  });
});

describe('read-your-writes on the run endpoints (no projection running)', () => {
  let sys: TestSystem;
  let nc: NatsConnection;

  beforeAll(async () => {
    sys = await TestSystem.start(['gateway']);
    nc = await connect({ servers: NATS_URL });
  });

  afterAll(async () => {
    await nc?.close();
    await sys?.stop();
  });

  it('answers an accepted but unprojected run from the stream as Pending, with its history', async () => {
    const bus = new TestBus(nc, await jetstreamManager(nc), sys.iso.topology);
    await bus.publish(
      createEvent(
        'RunRequested',
        { runId: 'ryw-1', attempt: 0, occurredAt: at(0) },
        {
          kind: 'optimization',
          request: {
            strategy: 'sma-crossover',
            axes: { fast: [5, 10], slow: [30] },
            dataset: { synthetic: { bars: 100, seed: 1, timeframe: '1h' } },
          },
          totalBars: 100,
          totalCombinations: 2,
          triggeredBy: 'api',
        },
      ),
    );
    const run = await http<Record<string, unknown>>(sys.gateway.url, 'GET', '/api/runs/ryw-1');
    expect(run.status).toBe(200);
    expect(run.body).toMatchObject({
      id: 'ryw-1',
      kind: 'optimization',
      status: 'Pending',
      totalCombinations: 2,
      logs: [],
    });
    expect((await http(sys.gateway.url, 'GET', '/api/runs/ryw-1/logs')).body).toEqual({ items: [], nextCursor: null });
    const events = await http<{ events: { type: string }[] }>(sys.gateway.url, 'GET', '/api/runs/ryw-1/events');
    expect(events.body.events.map((e) => e.type)).toEqual(['RunRequested']);
    expect((await http(sys.gateway.url, 'GET', '/api/runs/ryw-2')).status).toBe(404);
  });

  it('a cancel of a run that already completed, but is not projected yet, answers 409 from the stream, appending nothing', async () => {
    // The read model lags (here: no projection at all); the stream already holds the run's end.
    const bus = new TestBus(nc, await jetstreamManager(nc), sys.iso.topology);
    await publishCompletedBacktest(bus, 'ryw-3');
    const cancel = await http<{ status: string }>(sys.gateway.url, 'POST', '/api/backtests/ryw-3/cancel');
    expect(cancel).toMatchObject({ status: 409, body: { status: 'Completed' } });
    // Answered from the stream's end: no cancellation request appended behind it (one that was would
    // wait for a worker's confirmation that never comes).
    const history = await bus.history('ryw-3');
    expect(history.map((e) => e.event.type)).not.toContain('RunCancellationRequested');
    expect(history[history.length - 1]?.event.type).toBe('RunCompleted');
  });
});
