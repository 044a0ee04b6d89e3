import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import { jetstreamManager, type JetStreamManager } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/nats-core';
import { connect } from '@nats-io/transport-node';
import { Client } from 'pg';
import { TestBus } from '../../../test/support/bus';
import { eventually } from '../../../test/support/eventually';
import { DATABASE_URL, http, NATS_URL, ROOT, TestSystem, type ServiceProcess } from '../../../test/support/system';
import { BEHIND_STREAM, verifyReadModels } from '../src/rebuild/verify';
import { WRITE_FENCE_LOCK } from '../src/runs/projection.consumer';
import { publishCompletedBacktest, publishCraftedHistory } from './crafted-history';

const run = promisify(execFile);

interface Lag {
  streamSeq: number;
  appliedSeq: number;
  lag: number;
  leader: boolean;
}
interface Readiness {
  status: string;
  checks: Record<string, boolean>;
  lag?: Lag;
  progress?: { stalled: boolean; lag: number };
}

/**
 * The projection against the machine's NATS 2.9, where the `pending` count of a consumer filtered on
 * `runs.>` that starts mid-stream is wrong (off by 3–17, the last message reported 10–17 pending): a
 * batch that waited for pending = 0 froze for minutes after a restart, readiness said ready and
 * verify said equal. Now: restarts at many positions catch up, a stall is not-ready with a WARNING,
 * and verify compares against the whole stream.
 */
describe('projection liveness: restarts mid-stream, stalls, verify against the whole stream', () => {
  let sys: TestSystem;
  let nc: NatsConnection;
  let jsm: JetStreamManager;
  let bus: TestBus;
  let published = 0;
  const target = () => ({ databaseUrl: DATABASE_URL, dbSchema: sys.iso.schema, topology: sys.iso.topology });
  const env = { PROJECTION_STALL_SECONDS: '2' };

  /** The running projection, started if the previous test left none. */
  const projection = async (): Promise<ServiceProcess> => {
    const alive = sys.processes.find(
      (p) => p.name === 'projection' && p.child.exitCode === null && !p.child.signalCode,
    );
    return alive ?? sys.spawn('projection', env);
  };
  const lagOf = async (p: ServiceProcess): Promise<Lag> => (await http<Lag>(p.url, 'GET', '/projection/lag')).body;
  const caughtUp = async (p: ServiceProcess, what: string): Promise<Lag> =>
    eventually(
      `the projection to catch up ${what}`,
      () => lagOf(p),
      (l) => l.streamSeq > 0 && l.lag === 0,
      {
        timeoutMs: 60_000,
        intervalMs: 100,
      },
    );
  const checkpoint = async (): Promise<number> => {
    const pg = new Client({ connectionString: DATABASE_URL });
    await pg.connect();
    try {
      const r = await pg.query<{ last_seq: string }>(
        `SELECT last_seq FROM "${sys.iso.schema}".projection_checkpoints WHERE name = 'runs'`,
      );
      return Number(r.rows[0]?.last_seq ?? 0);
    } finally {
      await pg.end();
    }
  };
  const cli = (script: string, extraEnv: NodeJS.ProcessEnv = {}) =>
    run(process.execPath, [path.join(ROOT, 'apps/projection/dist/cli', `${script}.js`)], {
      cwd: ROOT,
      env: { ...process.env, ...sys.iso.env, ...extraEnv },
    }).then(
      (r) => ({ code: 0, stdout: r.stdout }),
      (e: { code: number; stdout: string }) => ({ code: e.code, stdout: e.stdout }),
    );
  /** `n` completed backtests (3 events each) under fresh ids. */
  const publishBacktests = async (prefix: string, n: number): Promise<void> => {
    for (let i = 0; i < n; i++) await publishCompletedBacktest(bus, `${prefix}-${published++}`);
  };

  beforeAll(async () => {
    sys = await TestSystem.start([], env);
    nc = await connect({ servers: NATS_URL });
    jsm = await jetstreamManager(nc);
    bus = new TestBus(nc, jsm, sys.iso.topology);
  });

  afterAll(async () => {
    await nc?.close();
    await sys?.stop();
  });

  it('killed and restarted at many positions of a mixed stream, catches up every time and equals the whole stream', async () => {
    // Chunks of every size between the restarts, 0 included (a restart at the stream's last message),
    // and kills both while caught up and in the middle of a catch-up.
    const chunks = [1, 7, 0, 17, 2, 40, 5, 0, 11, 3, 23, 13];
    const startedAt = new Set<number>();
    let p = await projection();
    await publishCraftedHistory(bus, 'live-first');
    for (const [round, size] of chunks.entries()) {
      if (round % 3 === 1) await publishCraftedHistory(bus, `live-${round}`);
      await publishBacktests(`live-${round}`, size);
      if (round % 2 === 0) await caughtUp(p, `before kill ${round}`);
      await sys.kill(p);
      startedAt.add(await checkpoint());
      await publishBacktests(`live-${round}-down`, size % 4);
      p = await sys.spawn('projection', env);
      const lag = await caughtUp(p, `after restart ${round} at checkpoint ${[...startedAt].at(-1)}`);
      expect(lag.leader).toBe(true);
    }
    // Restarts happened at distinct checkpoints, mid-stream.
    expect(startedAt.size).toBeGreaterThanOrEqual(8);
    const report = await verifyReadModels(target(), nc);
    expect(report.differences).toEqual([]);
    expect(report.checkpoint).toBe(report.streamSeq);
  });

  it('verify never says equal while the read models are behind the stream', async () => {
    const p = await projection();
    await publishBacktests('behind-before', 2);
    await caughtUp(p, 'before it is stopped');
    await sys.kill(p);
    await publishBacktests('behind', 3);
    const lastSeq = (await jsm.streams.info(sys.iso.topology.streams.runs.name)).state.last_seq;

    const report = await verifyReadModels(target(), nc);
    expect(report.streamSeq).toBe(lastSeq);
    expect(report.checkpoint).toBe(lastSeq - 9);
    expect(report.differences).toContainEqual({ ...BEHIND_STREAM, live: lastSeq - 9, replayed: lastSeq });
    // The unapplied tail's runs are differences too: rows the stream has and the read models miss.
    expect(report.differences.filter((d) => d.field === '(row)')).toHaveLength(3);

    const behind = await cli('verify', { VERIFY_CATCH_UP_SECONDS: '0' });
    expect(behind.code).toBe(1);
    expect(behind.stdout).toContain(
      `read models are behind the stream: checkpoint ${lastSeq - 9} < last sequence ${lastSeq} (9 event(s) not applied`,
    );
    expect(behind.stdout).not.toContain('equal');

    // Restarted, the projection catches up; verify (which gives it time to) finds them equal.
    const verified = cli('verify', { VERIFY_CATCH_UP_SECONDS: '60' });
    await projection();
    const equal = await verified;
    expect(equal.stdout).toContain('read models equal the replayed stream');
    expect(equal.code).toBe(0);
  });

  it('a projection whose checkpoint stands still with events waiting is not ready and logs a WARNING with the numbers', async () => {
    const p = await projection();
    await publishBacktests('stall-before', 1);
    const before = await caughtUp(p, 'before the stall');
    // Hold the write fence exclusively (as a rebuild's swap does): every batch waits behind it.
    const fence = new Client({ connectionString: DATABASE_URL });
    await fence.connect();
    try {
      await fence.query('BEGIN');
      await fence.query('SELECT pg_advisory_xact_lock($1, hashtext($2))', [WRITE_FENCE_LOCK, sys.iso.schema]);
      await publishBacktests('stalled', 2);
      const notReady = await eventually(
        'readiness to fail while the checkpoint stands still',
        () => http<Readiness>(p.url, 'GET', '/health/ready'),
        (r) => r.status === 503,
        { timeoutMs: 30_000, intervalMs: 200 },
      );
      expect(notReady.body.checks).toEqual({ nats: true, streams: true, postgres: true, progressing: false });
      expect(notReady.body.lag).toMatchObject({ appliedSeq: before.streamSeq, lag: 6, leader: true });
      expect(notReady.body.progress).toMatchObject({ stalled: true, lag: 6 });
      const warning = await eventually(
        'a WARNING about the stall in the projection log',
        () =>
          Promise.resolve(
            p.output
              .join('')
              .split('\n')
              .find((l) => l.includes('projection stalled')),
          ),
        (line) => line !== undefined,
        { timeoutMs: 10_000 },
      );
      expect(JSON.parse(warning as string)).toMatchObject({
        level: 40,
        appliedSeq: before.streamSeq,
        streamSeq: before.streamSeq + 6,
        lag: 6,
        msg: expect.stringMatching(
          new RegExp(
            `^projection stalled: checkpoint ${before.streamSeq} has not moved for \\d+ s while 6 event\\(s\\) wait`,
          ),
        ),
      });
    } finally {
      await fence.query('ROLLBACK').catch(() => undefined);
      await fence.end();
    }
    await caughtUp(p, 'once the fence is released');
    const ready = await eventually(
      'readiness to come back once the checkpoint moves',
      () => http<Readiness>(p.url, 'GET', '/health/ready'),
      (r) => r.status === 200,
      { timeoutMs: 30_000, intervalMs: 200 },
    );
    expect(ready.body.checks.progressing).toBe(true);
  });
});
