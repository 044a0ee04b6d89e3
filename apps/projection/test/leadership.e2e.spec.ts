import { jetstreamManager, type JetStreamManager } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/nats-core';
import { connect } from '@nats-io/transport-node';
import { Client } from 'pg';
import { TestBus } from '../../../test/support/bus';
import { eventually } from '../../../test/support/eventually';
import { PrivatePostgres } from '../../../test/support/private-servers';
import { DATABASE_URL, http, NATS_URL, TestSystem, type ServiceProcess } from '../../../test/support/system';
import { verifyReadModels } from '../src/rebuild/verify';
import { LEADER_LOCK } from '../src/runs/projection.consumer';
import { publishCompletedBacktest } from './crafted-history';

interface Lag {
  streamSeq: number;
  appliedSeq: number;
  lag: number;
  leader: boolean;
}

/** One committed move of the checkpoint, recorded by a trigger: who applied which sequences. */
interface Application {
  fromSeq: number;
  toSeq: number;
  applier: string;
}

/**
 * Two projections on one schema, and the leader's database session lost under them: its backend
 * terminated (`pg_terminate_backend`, on the shared Postgres) or the whole Postgres restarted (a
 * private one). Before, the first kept `leader: true` after its advisory lock went with its session,
 * and a second took the lock: two leaders. Now losing the session is losing the lead, at once.
 */
describe('projection leadership: one leader at a time when the database session is lost', () => {
  let nc: NatsConnection;
  let jsm: JetStreamManager;

  beforeAll(async () => {
    nc = await connect({ servers: NATS_URL });
    jsm = await jetstreamManager(nc);
  });

  afterAll(async () => {
    await nc?.close();
  });

  /** Two projections named `projection-a` and `projection-b` (their sessions' application_name). */
  const twoProjections = async (
    sys: TestSystem,
    env: NodeJS.ProcessEnv = {},
  ): Promise<[ServiceProcess, ServiceProcess]> => {
    const a = await sys.spawn('projection', { ...env, INSTANCE_ID: 'projection-a' });
    const b = await sys.spawn('projection', { ...env, INSTANCE_ID: 'projection-b' });
    return [a, b];
  };

  /** Records every committed checkpoint move with the application name of the session that made it. */
  const recordApplications = async (pg: Client, schema: string): Promise<void> => {
    await pg.query(`CREATE TABLE "${schema}".test_applications (
      id bigserial PRIMARY KEY, from_seq bigint, to_seq bigint NOT NULL, applier text NOT NULL)`);
    await pg.query(`CREATE FUNCTION "${schema}".test_record_application() RETURNS trigger AS $$
      BEGIN
        INSERT INTO "${schema}".test_applications (from_seq, to_seq, applier)
        VALUES (CASE WHEN TG_OP = 'UPDATE' THEN OLD.last_seq END, NEW.last_seq, current_setting('application_name'));
        RETURN NEW;
      END $$ LANGUAGE plpgsql`);
    await pg.query(`CREATE TRIGGER test_record_application AFTER INSERT OR UPDATE ON "${schema}".projection_checkpoints
      FOR EACH ROW EXECUTE FUNCTION "${schema}".test_record_application()`);
  };
  const applications = async (pg: Client, schema: string): Promise<Application[]> =>
    (
      await pg.query<{ from_seq: string | null; to_seq: string; applier: string }>(
        `SELECT from_seq, to_seq, applier FROM "${schema}".test_applications ORDER BY id`,
      )
    ).rows.map((r) => ({ fromSeq: Number(r.from_seq ?? 0), toSeq: Number(r.to_seq), applier: r.applier }));

  /**
   * Polls both projections' `leader` flag until stopped; counts the samples in which both claimed
   * it. A projection that cannot answer (its Postgres is down) is not counted as a claim.
   */
  const watchLeaders = (pair: readonly ServiceProcess[]) => {
    let stop = false;
    let samples = 0;
    const both: Lag[][] = [];
    const done = (async () => {
      while (!stop) {
        const lags = await Promise.all(
          pair.map((p) =>
            http<Lag>(p.url, 'GET', '/projection/lag').then(
              (r) => (r.status === 200 ? r.body : undefined),
              () => undefined,
            ),
          ),
        );
        samples += 1;
        if (lags.every((l) => l?.leader === true)) both.push(lags as Lag[]);
        await new Promise((r) => setTimeout(r, 20));
      }
    })();
    return {
      stop: async () => {
        stop = true;
        await done;
        return { samples, both };
      },
    };
  };

  const leaderOf = (pair: readonly ServiceProcess[]) =>
    eventually(
      'exactly one projection to lead and be caught up',
      async () => Promise.all(pair.map(async (p) => (await http<Lag>(p.url, 'GET', '/projection/lag')).body)),
      (lags) => lags.filter((l) => l.leader).length === 1 && lags.every((l) => l.streamSeq > 0 && l.lag === 0),
      { timeoutMs: 60_000, intervalMs: 100 },
    );

  /** The backend pid holding the schema's leader lock, once someone holds it. */
  const lockHolder = (pg: Client, schema: string): Promise<number> =>
    eventually(
      'someone to hold the leader lock',
      async () =>
        (
          await pg.query<{ pid: number }>(
            `SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND granted AND classid = $1::oid
               AND objid = hashtext($2)::oid AND objsubid = 2`,
            [LEADER_LOCK, schema],
          )
        ).rows[0]?.pid,
      (pid) => pid !== undefined,
      { timeoutMs: 30_000, intervalMs: 50 },
    ) as Promise<number>;

  /**
   * What the applications must show: one unbroken chain of checkpoint moves (no batch applied twice
   * or out of order), by the two instances only, handing over at most once per lost session.
   */
  const expectOneApplierAtATime = (apps: Application[], handovers: number): void => {
    expect(apps.length).toBeGreaterThan(0);
    let previous = apps[0]?.fromSeq ?? 0;
    for (const a of apps) {
      expect({ ...a, previous }).toEqual({ ...a, fromSeq: previous, previous });
      expect(a.toSeq).toBeGreaterThanOrEqual(a.fromSeq);
      previous = a.toSeq;
    }
    expect(new Set(apps.map((a) => a.applier))).toEqual(new Set(['projection-a', 'projection-b']));
    const switches = apps.filter((a, i) => i > 0 && a.applier !== apps[i - 1]?.applier).length;
    expect(switches).toBeGreaterThanOrEqual(1);
    expect(switches).toBeLessThanOrEqual(handovers);
  };

  it('a terminated lock session: the leader stops at once, exactly one applies, nothing is doubled', async () => {
    const sys = await TestSystem.start([]);
    const pg = new Client({ connectionString: DATABASE_URL });
    await pg.connect();
    try {
      const { schema } = sys.iso;
      const bus = new TestBus(nc, jsm, sys.iso.topology);
      const pair = await twoProjections(sys);
      await recordApplications(pg, schema);
      let n = 0;
      let publishing = true;
      const publisher = (async () => {
        while (publishing) await publishCompletedBacktest(bus, `lead-${n++}`);
      })();
      const watch = watchLeaders(pair);
      const kills = 3;
      const killed: number[] = [];
      try {
        for (let k = 0; k < kills; k++) {
          // Wait for applications by the current holder, then end its session under it.
          const before = (await applications(pg, schema)).length;
          await eventually(
            'the leader to apply some batches',
            async () => (await applications(pg, schema)).length,
            (c) => c >= before + 3,
            { timeoutMs: 30_000 },
          );
          const pid = await lockHolder(pg, schema);
          killed.push(pid);
          await pg.query('SELECT pg_terminate_backend($1)', [pid]);
          const next = await eventually(
            'another session to take the lock',
            () => lockHolder(pg, schema),
            (p) => p !== pid,
          );
          expect(killed).not.toContain(next);
        }
      } finally {
        publishing = false;
        await publisher;
      }
      const lags = await leaderOf(pair);
      const { samples, both } = await watch.stop();
      expect(samples).toBeGreaterThan(10);
      expect(both).toEqual([]);
      expect(lags.map((l) => l.appliedSeq)).toEqual([lags[0]?.streamSeq, lags[0]?.streamSeq]);
      expectOneApplierAtATime(await applications(pg, schema), kills);
      const report = await verifyReadModels(
        { databaseUrl: DATABASE_URL, dbSchema: schema, topology: sys.iso.topology },
        nc,
      );
      expect(report.differences).toEqual([]);
      expect(report.runs).toBe(n);
    } finally {
      await pg.end();
      await sys.stop();
    }
  });

  it('a Postgres restart (clean and crash): leadership is lost and taken again by one, which resumes from the checkpoint', async () => {
    const postgres = await PrivatePostgres.start();
    const sys = await TestSystem.start([]);
    try {
      const { schema, topology } = sys.iso;
      const env = { DATABASE_URL: postgres.url };
      const bus = new TestBus(nc, jsm, topology);
      const pair = await twoProjections(sys, env);
      const pg = new Client({ connectionString: postgres.url });
      await pg.connect();
      await recordApplications(pg, schema);
      await pg.end();
      let n = 0;
      const publish = async (count: number) => {
        for (let i = 0; i < count; i++) await publishCompletedBacktest(bus, `pgr-${n++}`);
      };
      await publish(5);
      await leaderOf(pair);
      const watch = watchLeaders(pair);
      for (const mode of ['fast', 'immediate'] as const) {
        await postgres.stop(mode);
        await publish(5); // stored while Postgres is down: applied once it is back
        await postgres.start();
        await publish(5);
        await leaderOf(pair);
      }
      const { samples, both } = await watch.stop();
      expect(samples).toBeGreaterThan(10);
      expect(both).toEqual([]);
      const check = new Client({ connectionString: postgres.url });
      await check.connect();
      try {
        const apps = await applications(check, schema);
        // One unbroken chain of checkpoint moves, nothing applied twice (a crash restart loses no commit).
        let previous = apps[0]?.fromSeq ?? 0;
        for (const a of apps) {
          expect(a.fromSeq).toBe(previous);
          previous = a.toSeq;
        }
        expect(previous).toBe((await jsm.streams.info(topology.streams.runs.name)).state.last_seq);
      } finally {
        await check.end();
      }
      const report = await verifyReadModels({ databaseUrl: postgres.url, dbSchema: schema, topology }, nc);
      expect(report.differences).toEqual([]);
      expect(report.runs).toBe(n);
    } finally {
      await sys.stop();
      await postgres.destroy();
    }
  });
});
