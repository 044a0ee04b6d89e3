import { TestBus } from '../../../../test/support/bus';
import type { NatsConnection } from '@nats-io/nats-core';
import { v7 as uuidv7 } from 'uuid';
import { DataSource } from 'typeorm';
import { createEvent } from '@runforge/contracts';
import { connectNats, provisionTopology } from '@runforge/messaging';
import { dataSourceOptions, runMigrations } from '@runforge/read-models';
import { decideFire, ScheduleTicker, scheduledMessageId, scheduledRunId, type FireDeps } from '@runforge/scheduling';
import { submitBacktest, validateBacktestRequest } from '@runforge/submission';
import {
  cleanupIsolation,
  DATABASE_URL,
  NATS_URL,
  newIsolation,
  type Isolation,
} from '../../../../test/support/system';

/**
 * The ticker against the real NATS and Postgres with an injected clock: fake instants in 2026
 * are driven tick by tick, so DST weekends and outages take milliseconds, not days.
 */

const TEMPLATE = {
  kind: 'backtest',
  strategy: 'sma-crossover',
  params: { fast: 5, slow: 20 },
  dataset: { synthetic: { bars: 500, seed: 1, timeframe: '1h' } },
};

interface Replica {
  readonly nc: NatsConnection;
  readonly db: DataSource;
  readonly deps: FireDeps;
  readonly ticker: ScheduleTicker;
}

interface FireRecord {
  fire_time: Date;
  triggered_by: string;
  outcome: string;
  reason: string | null;
  run_id: string | null;
  decided_by: string;
}

jest.setTimeout(30_000);

describe('scheduler tick (real NATS + Postgres, injected clock)', () => {
  let iso: Isolation;
  let a: Replica;
  let b: Replica;

  async function replica(name: string): Promise<Replica> {
    const nc = await connectNats(NATS_URL, name);
    const jsm = await provisionTopology(nc, iso.topology);
    const db = new DataSource({
      ...dataSourceOptions({ databaseUrl: DATABASE_URL, dbSchema: iso.schema }),
      extra: { max: 4 },
    });
    await db.initialize();
    const bus = new TestBus(nc, jsm, iso.topology);
    const deps: FireDeps = { db, client: bus.client, reader: bus.reader, instanceId: name };
    return { nc, db, deps, ticker: new ScheduleTicker(deps) };
  }

  beforeAll(async () => {
    iso = newIsolation();
    await runMigrations({ databaseUrl: DATABASE_URL, dbSchema: iso.schema });
    a = await replica('scheduler-a');
    b = await replica('scheduler-b');
  });

  afterAll(async () => {
    for (const r of [a, b]) {
      await r?.db.destroy();
      await r?.nc.close();
    }
    if (iso) await cleanupIsolation(iso);
  });

  afterEach(async () => {
    // Every tick reads every schedule: a finished test's schedules must not be caught up by the next one's clock.
    await a.db.query(`DELETE FROM "${iso.schema}".schedules`);
  });

  async function createSchedule(fields: {
    cron: string;
    timezone?: string;
    overlapPolicy?: 'skip' | 'allow' | 'cancel-previous';
    maxRunsPerDay?: number;
    catchupWindowSeconds?: number;
    paused?: boolean;
    evaluatedUntil: Date;
  }): Promise<string> {
    const id = uuidv7();
    await a.db.query(
      `INSERT INTO "${iso.schema}".schedules (id, name, cron, timezone, overlap_policy, max_runs_count, max_runs_window,
         catchup_window_seconds, template, paused, evaluated_until, created_at, updated_at)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $11, $11)`,
      [
        id,
        `s-${id}`,
        fields.cron,
        fields.timezone ?? 'Europe/Amsterdam',
        fields.overlapPolicy ?? 'allow',
        fields.maxRunsPerDay ?? null,
        fields.maxRunsPerDay ? '1d' : null,
        fields.catchupWindowSeconds ?? 0,
        JSON.stringify(TEMPLATE),
        fields.paused ?? false,
        fields.evaluatedUntil,
      ],
    );
    return id;
  }

  async function fires(scheduleId: string): Promise<FireRecord[]> {
    return a.db.query<FireRecord[]>(
      `SELECT fire_time, triggered_by, outcome, reason, run_id, decided_by FROM "${iso.schema}".schedule_fires
        WHERE schedule_id = $1 ORDER BY fire_time, id`,
      [scheduleId],
    );
  }

  /** RunRequested messages stored in the stream for these runs (JetStream is the judge of "one run"). */
  async function requestedCount(runIds: readonly string[]): Promise<number> {
    const info = await a.deps.reader.jsm.streams.info(iso.topology.streams.runs.name, {
      subjects_filter: iso.topology.anyRunSubject('requested'),
    });
    const subjects = info.state.subjects ?? {};
    return runIds.reduce((n, id) => n + (subjects[iso.topology.runSubject(id, 'requested')] ?? 0), 0);
  }

  async function tickBoth(now: Date): Promise<void> {
    const [ra, rb] = await Promise.all([a.ticker.tick(now), b.ticker.tick(now)]);
    expect([...ra.errors, ...rb.errors]).toEqual([]);
  }

  /** The projection's row for a run, as if it had folded the run's events (only status matters here). */
  async function projectRun(runId: string, scheduleId: string, status: string): Promise<void> {
    await a.db.query(
      `INSERT INTO "${iso.schema}".runs (id, kind, status, strategy, params, request, dataset, total_bars, triggered_by,
         schedule_id, requested_at, updated_at, last_seq)
       VALUES ($1, 'backtest', $2, 'sma-crossover', '{}', '{}', '{}', 500, 'schedule', $3, now(), now(), 1)
       ON CONFLICT (id) DO UPDATE SET status = EXCLUDED.status`,
      [runId, status, scheduleId],
    );
  }

  it('two replicas ticking the same clock across the March DST change start exactly one run per fire, at 10:00 local', async () => {
    const daily = await createSchedule({ cron: '0 10 * * *', evaluatedUntil: new Date('2026-03-27T12:00:00Z') });
    const halfHourly = await createSchedule({ cron: '*/30 * * * *', evaluatedUntil: new Date('2026-03-29T00:10:00Z') });
    // Two days of 20-second ticks around 29 March would be 8,640 ticks; the clock jumps to just after
    // each interesting instant instead, plus a few seconds of jitter between the replicas.
    const instants = [
      '2026-03-28T09:00:00Z',
      '2026-03-29T00:30:00Z',
      '2026-03-29T01:00:00Z', // 03:00 CEST: local 02:00–02:59 does not exist
      '2026-03-29T01:30:00Z',
      '2026-03-29T08:00:00Z', // 10:00 CEST
    ].map((s) => new Date(s).getTime());
    for (const t of instants) {
      await tickBoth(new Date(t + 900));
      await Promise.all([a.ticker.tick(new Date(t + 2_000)), b.ticker.tick(new Date(t + 1_500))]);
    }

    const dailyFires = await fires(daily);
    expect(dailyFires.map((f) => [f.fire_time.toISOString(), f.outcome])).toEqual([
      ['2026-03-28T09:00:00.000Z', 'started'],
      ['2026-03-29T08:00:00.000Z', 'started'],
    ]);
    const halfFires = await fires(halfHourly);
    // The 08:00Z tick also sees 02:00Z … 07:30Z: a catch-up runs once (the newest); older ones are "missed".
    expect(halfFires.filter((f) => f.outcome === 'started').map((f) => f.fire_time.toISOString())).toEqual([
      '2026-03-29T00:30:00.000Z',
      '2026-03-29T01:00:00.000Z',
      '2026-03-29T01:30:00.000Z',
      '2026-03-29T08:00:00.000Z',
    ]);
    expect(halfFires.filter((f) => f.outcome === 'missed')).toHaveLength(12);

    const started = [...dailyFires, ...halfFires].filter((f) => f.outcome === 'started');
    // Each fire has one record, with the run id every replica derives, and one RunRequested.
    for (const [id, list] of [
      [daily, dailyFires],
      [halfHourly, halfFires],
    ] as const) {
      for (const f of list.filter((x) => x.outcome === 'started'))
        expect(f.run_id).toBe(scheduledRunId(id, f.fire_time));
    }
    expect(await requestedCount(started.map((f) => f.run_id as string))).toBe(started.length);

    const stored = await a.deps.reader.lastOfType(
      scheduledRunId(daily, new Date('2026-03-29T08:00:00Z')),
      'RunRequested',
    );
    expect(stored?.event.data).toEqual(
      expect.objectContaining({
        kind: 'backtest',
        triggeredBy: 'schedule',
        scheduleId: daily,
        principal: { kind: 'scheduler', id: 'scheduler', name: 'scheduler' },
      }),
    );
  });

  it('many concurrent ticks of two replicas on one fire decide it once', async () => {
    const id = await createSchedule({
      cron: '0 * * * *',
      timezone: 'UTC',
      evaluatedUntil: new Date('2026-06-01T09:30:00Z'),
    });
    const now = new Date('2026-06-01T10:00:01Z');
    await Promise.all([0, 1, 2, 3].map((i) => (i % 2 ? a : b).ticker.tick(now)));
    const f = await fires(id);
    expect(f).toHaveLength(1);
    expect(f[0]?.outcome).toBe('started');
    expect(await requestedCount([scheduledRunId(id, new Date('2026-06-01T10:00:00Z'))])).toBe(1);
  });

  it('a publish that reached the stream before a crash is not repeated: the retried fire is a JetStream duplicate', async () => {
    const id = await createSchedule({
      cron: '0 * * * *',
      timezone: 'UTC',
      evaluatedUntil: new Date('2026-06-02T09:30:00Z'),
    });
    const fireTime = new Date('2026-06-02T10:00:00Z');
    // The "crashed" replica published, then died before committing its claim.
    const { kind: _kind, ...request } = TEMPLATE;
    const v = await validateBacktestRequest(request);
    if (!v.ok) throw new Error('template invalid');
    await submitBacktest(a.deps.client, v.value, {
      triggeredBy: 'schedule',
      scheduleId: id,
      runId: scheduledRunId(id, fireTime),
      msgId: scheduledMessageId(id, fireTime),
    });
    await b.ticker.tick(new Date('2026-06-02T10:00:05Z'));
    expect((await fires(id)).map((f) => f.outcome)).toEqual(['started']);
    expect(await requestedCount([scheduledRunId(id, fireTime)])).toBe(1);
  });

  it('overlap "skip" skips while the previous run is active (even before the projection has it), and starts again once it ended', async () => {
    const id = await createSchedule({
      cron: '*/15 * * * *',
      overlapPolicy: 'skip',
      evaluatedUntil: new Date('2026-06-03T10:00:00Z'),
    });
    await tickBoth(new Date('2026-06-03T10:15:01Z'));
    const first = (await fires(id))[0]?.run_id as string;
    await tickBoth(new Date('2026-06-03T10:30:01Z')); // not projected yet → still active
    await projectRun(first, id, 'Running');
    await tickBoth(new Date('2026-06-03T10:45:01Z'));
    await projectRun(first, id, 'Completed');
    await tickBoth(new Date('2026-06-03T11:00:01Z'));
    const f = await fires(id);
    expect(f.map((r) => r.outcome)).toEqual(['started', 'skipped', 'skipped', 'started']);
    expect(f[1]?.reason).toBe(
      `overlap policy "skip": the previous run ${first} (Pending) of this schedule is still active`,
    );
    expect(f[2]?.reason).toBe(
      `overlap policy "skip": the previous run ${first} (Running) of this schedule is still active`,
    );
    expect(await requestedCount(f.map((r) => r.run_id ?? 'none'))).toBe(2);
  });

  it('overlap "skip" trusts the stream over a lagging read model: a run that already ended does not block the next fire', async () => {
    const id = await createSchedule({
      cron: '*/15 * * * *',
      overlapPolicy: 'skip',
      evaluatedUntil: new Date('2026-06-07T10:00:00Z'),
    });
    await tickBoth(new Date('2026-06-07T10:15:01Z'));
    const first = (await fires(id))[0]?.run_id as string;
    await projectRun(first, id, 'Running'); // the projection has not applied the end yet
    await a.deps.client.publishEvent(
      createEvent(
        'RunCancelled',
        { runId: first, attempt: 1, occurredAt: '2026-06-07T10:29:59.000Z' },
        { reason: 'test' },
      ),
    );
    await tickBoth(new Date('2026-06-07T10:30:01Z'));
    expect((await fires(id)).map((r) => [r.outcome, r.reason])).toEqual([
      ['started', null],
      ['started', null],
    ]);
  });

  it('overlap "cancel-previous" asks the active run to cancel (requestedBy schedule) and starts the new one', async () => {
    const id = await createSchedule({
      cron: '*/15 * * * *',
      overlapPolicy: 'cancel-previous',
      evaluatedUntil: new Date('2026-06-04T10:00:00Z'),
    });
    await tickBoth(new Date('2026-06-04T10:15:01Z'));
    await tickBoth(new Date('2026-06-04T10:30:01Z'));
    const f = await fires(id);
    expect(f.map((r) => r.outcome)).toEqual(['started', 'started']);
    const cancel = await a.deps.reader.lastOfType(f[0]?.run_id as string, 'RunCancellationRequested');
    expect(cancel?.event.data).toEqual({
      requestedBy: 'schedule',
      reason: "superseded by the schedule's fire at 2026-06-04T10:30:00.000Z",
      principal: { kind: 'scheduler', id: 'scheduler', name: 'scheduler' },
    });
    expect(f[1]?.reason).toBe(`overlap policy "cancel-previous": asked ${f[0]?.run_id} to cancel`);
  });

  it('at most once per local day: a manual run at 09:00 makes the 10:00 fire "limited"; the next day runs again', async () => {
    const id = await createSchedule({
      cron: '0 10 * * *',
      maxRunsPerDay: 1,
      evaluatedUntil: new Date('2026-10-24T00:00:00Z'),
    });
    const principal = { kind: 'key', id: 'key-1', name: 'ops' } as const;
    const manual = await decideFire(a.deps, id, {
      triggeredBy: 'manual',
      now: new Date('2026-10-24T07:00:00Z'),
      principal,
    }); // 09:00 CEST
    expect(manual).toEqual(expect.objectContaining({ claimed: true, outcome: 'started' }));
    await tickBoth(new Date('2026-10-24T08:00:02Z')); // 10:00 CEST
    const again = await decideFire(b.deps, id, {
      triggeredBy: 'manual',
      now: new Date('2026-10-24T12:00:00Z'),
      principal,
    });
    expect(again).toEqual(
      expect.objectContaining({
        claimed: true,
        outcome: 'limited',
        runId: null,
        nextAllowedAt: new Date('2026-10-24T22:00:00Z'),
      }),
    );
    // Sunday 25 October is 25 hours long; 10:00 CET is 09:00Z.
    await tickBoth(new Date('2026-10-25T09:00:02Z'));
    const f = await fires(id);
    expect(f.map((r) => [r.fire_time.toISOString(), r.triggered_by, r.outcome])).toEqual([
      ['2026-10-24T07:00:00.000Z', 'manual', 'started'],
      ['2026-10-24T08:00:00.000Z', 'schedule', 'limited'],
      ['2026-10-24T12:00:00.000Z', 'manual', 'limited'],
      ['2026-10-25T09:00:00.000Z', 'schedule', 'started'],
    ]);
    expect(f[1]?.reason).toMatch(
      /^at most 1 run\(s\) per calendar day \(1d\) in Europe\/Amsterdam; .* next run allowed from 2026-10-24T22:00:00.000Z$/,
    );
    expect(f[0]?.run_id).toBeTruthy();
    const manualRun = await a.deps.reader.lastOfType(f[0]?.run_id as string, 'RunRequested');
    expect(manualRun?.event.data).toEqual(
      expect.objectContaining({ triggeredBy: 'manual', scheduleId: id, principal }),
    );
  });

  it('after a simulated outage it catches up the newest fire within the window once and records the others as missed', async () => {
    const id = await createSchedule({
      cron: '*/30 * * * *',
      catchupWindowSeconds: 3600,
      evaluatedUntil: new Date('2026-06-05T06:10:00Z'), // both replicas "down" from 06:10Z
    });
    await tickBoth(new Date('2026-06-05T09:10:00Z'));
    await tickBoth(new Date('2026-06-05T09:10:01Z'));
    const f = await fires(id);
    expect(f.map((r) => [r.fire_time.toISOString().slice(11, 16), r.outcome])).toEqual([
      ['06:30', 'missed'],
      ['07:00', 'missed'],
      ['07:30', 'missed'],
      ['08:00', 'missed'],
      ['08:30', 'missed'],
      ['09:00', 'started'],
    ]);
    expect(f[0]?.reason).toMatch(/scheduler was not running at the fire time/);
    expect(await requestedCount(f.map((r) => r.run_id ?? scheduledRunId(id, r.fire_time)))).toBe(1);
  });

  it('a paused schedule records its fires as skipped (paused) and runs again after resume — read on the next tick, no restart', async () => {
    const id = await createSchedule({
      cron: '*/15 * * * *',
      paused: true,
      evaluatedUntil: new Date('2026-06-06T10:00:00Z'),
    });
    await tickBoth(new Date('2026-06-06T10:15:01Z'));
    await a.db.query(`UPDATE "${iso.schema}".schedules SET paused = false WHERE id = $1`, [id]);
    await tickBoth(new Date('2026-06-06T10:30:01Z'));
    // A cron change applies on the next tick too.
    await a.db.query(`UPDATE "${iso.schema}".schedules SET cron = '0 12 * * *' WHERE id = $1`, [id]);
    await tickBoth(new Date('2026-06-06T10:45:01Z'));
    const f = await fires(id);
    expect(f.map((r) => [r.fire_time.toISOString().slice(11, 16), r.outcome, r.reason])).toEqual([
      ['10:15', 'skipped', 'the schedule is paused'],
      ['10:30', 'started', null],
    ]);
  });
});
