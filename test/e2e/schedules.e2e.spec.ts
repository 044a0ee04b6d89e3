import { Client } from 'pg';
import { connect } from '@nats-io/transport-node';
import { jetstreamManager } from '@nats-io/jetstream';
import { eventually } from '../support/eventually';
import { DATABASE_URL, http, NATS_URL, TestSystem } from '../support/system';

interface Fire {
  fireTime: string;
  triggeredBy: 'schedule' | 'manual';
  outcome: 'started' | 'skipped' | 'limited' | 'missed';
  reason: string | null;
  runId?: string;
}
interface Schedule {
  id: string;
  name: string;
  paused: boolean;
  cron: string;
  nextFireTimes: string[];
  recentFires: Fire[];
  lastRuns: { id: string; status: string; triggeredBy: string }[];
}

const TEMPLATE = {
  kind: 'backtest',
  strategy: 'sma-crossover',
  params: { fast: 5, slow: 20 },
  dataset: { synthetic: { bars: 500, seed: 1, timeframe: '1h' } },
};

// Project-level testTimeout is not honoured by every jest version: set it here.
jest.setTimeout(60_000);

describe('schedules through the gateway API, fired by real scheduler processes', () => {
  let sys: TestSystem;

  beforeAll(async () => {
    sys = await TestSystem.start(['gateway', 'projection', 'scheduler'], { SCHEDULER_TICK_MS: '200' });
  });

  afterAll(async () => {
    await sys?.stop();
  });

  const api = <T = Record<string, unknown>>(method: string, url: string, body?: unknown) =>
    http<T>(sys.gateway.url, method, url, body);

  it('answers 400 naming the field for a NUL byte in a path, a query or a body, never 500', async () => {
    const nul = '%00';
    const routes: [string, string, unknown?][] = [
      ['GET', `/api/schedules/${nul}`],
      ['PATCH', `/api/schedules/${nul}`, { paused: true }],
      ['DELETE', `/api/schedules/${nul}`],
      ['POST', `/api/schedules/${nul}/pause`],
      ['POST', `/api/schedules/${nul}/resume`],
      ['POST', `/api/schedules/${nul}/trigger`],
    ];
    for (const [method, url, body] of routes) {
      const r = await api<{ issues: { field: string; reason: string }[] }>(method, url, body);
      expect({ method, url, status: r.status, fields: r.body.issues?.map((i) => i.field) }).toEqual({
        method,
        url,
        status: 400,
        fields: ['id'],
      });
    }
    const listed = await api<{ issues: { field: string }[] }>('GET', `/api/runs?scheduleId=${nul}`);
    expect(listed.status).toBe(400);
    expect(listed.body.issues).toEqual([{ field: 'scheduleId', reason: expect.stringMatching(/NUL/) }]);
    const named = await api<{ issues: { field: string }[] }>('POST', '/api/schedules', {
      name: 'nul\u0000name',
      cron: '0 10 * * *',
      timezone: 'Europe/Amsterdam',
      template: TEMPLATE,
    });
    expect(named.status).toBe(400);
    expect(named.body.issues).toEqual([{ field: 'name', reason: expect.stringMatching(/NUL/) }]);
  });

  it('records each change on SCHEDULES, and the scheduler consumes it to plan at once', async () => {
    const created = await api<Schedule>('POST', '/api/schedules', {
      name: 'changes-are-recorded',
      cron: '0 10 * * *',
      timezone: 'Europe/Amsterdam',
      template: TEMPLATE,
    });
    expect(created.status).toBe(201);
    expect((await api('POST', `/api/schedules/${created.body.id}/pause`)).status).toBe(200);
    expect((await api('DELETE', `/api/schedules/${created.body.id}`)).status).toBe(204);
    const nc = await connect({ servers: NATS_URL });
    try {
      const jsm = await jetstreamManager(nc);
      const stream = sys.iso.topology.streams.schedules.name;
      const changes = await eventually(
        'the three changes on SCHEDULES',
        async () => {
          const found: string[] = [];
          for (const change of ['created', 'paused', 'deleted']) {
            const subject = sys.iso.topology.scheduleChangeSubject(created.body.id, change);
            const m = await jsm.streams.getMessage(stream, { last_by_subj: subject }).catch(() => null);
            if (m) found.push(m.json<{ change: string }>().change);
          }
          return found;
        },
        (found) => found.length === 3,
      );
      expect(changes).toEqual(['created', 'paused', 'deleted']);
      // The scheduler took and acked them (its transport handler re-plans on each).
      const spec = sys.iso.topology.consumers.scheduler;
      await eventually(
        'the scheduler to consume the changes',
        () => jsm.consumers.info(spec.stream, spec.durable),
        (info) => info.ack_floor.stream_seq >= 3 && info.num_pending === 0 && info.num_ack_pending === 0,
      );
    } finally {
      await nc.close();
    }
  });

  it('rejects an invalid cron, time zone or template with 400 naming each field and its reason', async () => {
    const r = await api<{ issues: { field: string; reason: string }[] }>('POST', '/api/schedules', {
      name: 'broken',
      cron: '61 * * * *',
      timezone: 'Mars/Olympus_Mons',
      template: { ...TEMPLATE, params: { fast: 50, slow: 20 } },
    });
    expect(r.status).toBe(400);
    expect(r.body.issues).toEqual([
      { field: 'cron', reason: expect.stringMatching(/minute/) },
      { field: 'timezone', reason: 'unknown IANA time zone "Mars/Olympus_Mons"' },
      { field: 'template.params.fast', reason: expect.stringMatching(/less than slow/) },
    ]);
    const kind = await api<{ issues: unknown[] }>('POST', '/api/schedules', {
      name: 'k',
      cron: '* * * * *',
      template: { strategy: 'x' },
    });
    expect(kind.status).toBe(400);
    expect(kind.body.issues).toEqual([
      { field: 'template.kind', reason: 'required: one of backtest, optimization, dmo, rmo, so' },
    ]);
    const fields = await api<{ issues: unknown[] }>('POST', '/api/schedules', {
      name: 'f',
      cron: '0 10 * * *',
      overlapPolicy: 'sometimes',
      maxRunsPerWindow: { count: 1, window: '1w' },
      template: TEMPLATE,
    });
    expect(fields.status).toBe(400);
    expect(fields.body.issues).toEqual([
      { field: 'overlapPolicy', reason: expect.any(String) },
      { field: 'maxRunsPerWindow.window', reason: expect.any(String) },
    ]);
    const unknownDataset = await api<{ issues: unknown[] }>('POST', '/api/schedules', {
      name: 'd',
      cron: '0 10 * * *',
      template: { ...TEMPLATE, dataset: { id: 'no-such-dataset' } },
    });
    expect(unknownDataset.status).toBe(400);
    expect(unknownDataset.body.issues).toEqual([
      { field: 'template.dataset.id', reason: 'unknown dataset "no-such-dataset"' },
    ]);
    // An uploaded dataset is a valid template dataset.
    const csv = [
      'time,open,high,low,close,volume',
      ...Array.from({ length: 60 }, (_, i) => {
        const p = 100 + Math.sin(i / 5) * 5;
        return `${Date.UTC(2026, 0, 1) + i * 3_600_000},${p},${p + 1},${p - 1},${p + 0.5},10`;
      }),
    ].join('\n');
    const upload = await sys.fetch('/api/datasets?symbol=TEST&timeframe=1h', {
      method: 'POST',
      headers: { 'content-type': 'text/csv' },
      body: csv,
    });
    expect(upload.status).toBe(201);
    const datasetId = ((await upload.json()) as { id: string }).id;
    const withDataset = await api<{ id: string }>('POST', '/api/schedules', {
      name: 'uploaded',
      cron: '0 10 * * *',
      template: { ...TEMPLATE, dataset: { id: datasetId } },
    });
    expect(withDataset.status).toBe(201);
    expect((await api('DELETE', `/api/schedules/${withDataset.body.id}`)).status).toBe(204);
    expect((await api<{ items: unknown[] }>('GET', '/api/schedules')).body.items).toEqual([]);
  });

  it('day-ahead at 10:00 Amsterdam at most once a day: 201 with next fire times; a second manual trigger answers 409 with the next allowed time', async () => {
    const created = await api<Schedule>('POST', '/api/schedules', {
      name: 'day-ahead-daily',
      cron: '0 10 * * *',
      timezone: 'Europe/Amsterdam',
      overlapPolicy: 'skip',
      maxRunsPerWindow: { count: 1, window: '1d' },
      catchupWindowSeconds: 3600,
      template: TEMPLATE,
    });
    expect(created.status).toBe(201);
    const id = created.body.id;
    expect(created.headers.get('location')).toBe(`/api/schedules/${id}`);
    expect(created.body.nextFireTimes).toHaveLength(5);
    for (const t of created.body.nextFireTimes) {
      const local = new Intl.DateTimeFormat('en-GB', {
        timeZone: 'Europe/Amsterdam',
        hour: '2-digit',
        minute: '2-digit',
      }).format(new Date(t));
      expect(local).toBe('10:00');
    }
    expect(
      (await api('POST', '/api/schedules', { name: 'day-ahead-daily', cron: '* * * * *', template: TEMPLATE })).status,
    ).toBe(409);

    const first = await api<{ id: string; status: string; triggeredBy: string }>(
      'POST',
      `/api/schedules/${id}/trigger`,
    );
    expect(first.status).toBe(202);
    expect(first.body).toEqual(expect.objectContaining({ status: 'Pending', scheduleId: id, triggeredBy: 'manual' }));
    // The day's one run is taken (unless this test runs across local midnight, the next window starts tomorrow).
    const second = await api<{ message: string; nextAllowedAt: string }>('POST', `/api/schedules/${id}/trigger`);
    expect(second.status).toBe(409);
    expect(second.body.message).toMatch(/at most 1 run\(s\) per calendar day .* next run allowed from /);
    expect(new Date(second.body.nextAllowedAt).getTime()).toBeGreaterThan(Date.now());

    const details = await eventually(
      'the manual run to be projected and listed on the schedule',
      async () => (await api<Schedule>('GET', `/api/schedules/${id}`)).body,
      (s) => s.lastRuns.some((r) => r.id === first.body.id && r.triggeredBy === 'manual'),
      { timeoutMs: 15_000 },
    );
    // (Filtered on manual: a test run at exactly 10:00 Amsterdam time would also see the cron fire.)
    expect(
      details.recentFires.filter((f) => f.triggeredBy === 'manual').map((f) => [f.triggeredBy, f.outcome]),
    ).toEqual([
      ['manual', 'limited'],
      ['manual', 'started'],
    ]);
    expect(details.recentFires.find((f) => f.triggeredBy === 'manual' && f.outcome === 'started')?.runId).toBe(
      first.body.id,
    );
    expect((await api('POST', '/api/schedules/00000000-0000-0000-0000-000000000000/trigger')).status).toBe(404);
  });

  it('fires on its cadence, once per fire with two scheduler replicas; pause records skipped fires; resume, patch and delete take effect live', async () => {
    await sys.spawn('scheduler', { SCHEDULER_TICK_MS: '200' }); // a second replica
    const created = await api<Schedule>('POST', '/api/schedules', {
      name: 'every-second',
      cron: '* * * * * *',
      timezone: 'UTC',
      overlapPolicy: 'allow',
      template: TEMPLATE,
    });
    expect(created.status).toBe(201);
    const id = created.body.id;
    await eventually(
      'scheduled fires to start runs that the projection records with the schedule id',
      async () => (await api<Schedule>('GET', `/api/schedules/${id}`)).body,
      (s) => s.lastRuns.filter((r) => r.triggeredBy === 'schedule').length >= 3,
      { timeoutMs: 20_000 },
    );

    const paused = await api<Schedule>('POST', `/api/schedules/${id}/pause`);
    expect(paused.status).toBe(200);
    expect(paused.body.paused).toBe(true);
    await eventually(
      'fires during the pause to be recorded as skipped',
      async () => (await api<Schedule>('GET', `/api/schedules/${id}`)).body.recentFires,
      (f) => f.filter((x) => x.outcome === 'skipped' && x.reason === 'the schedule is paused').length >= 2,
      { timeoutMs: 10_000 },
    );
    const resumed = await api<Schedule>('POST', `/api/schedules/${id}/resume`);
    expect(resumed.body.paused).toBe(false);
    const resumedAt = Date.now();
    await eventually(
      'a fire after resume to start again',
      async () => (await api<Schedule>('GET', `/api/schedules/${id}`)).body.recentFires,
      (f) => f.some((x) => x.outcome === 'started' && new Date(x.fireTime).getTime() >= resumedAt - 1000),
      { timeoutMs: 10_000 },
    );

    const patched = await api<Schedule>('PATCH', `/api/schedules/${id}`, { cron: '0 0 1 1 *' });
    expect(patched.status).toBe(200);
    expect(patched.body.nextFireTimes[0]).toMatch(/-01-01T00:00:00.000Z$/);
    expect((await api('PATCH', `/api/schedules/${id}`, { timezone: 'Nowhere/Land' })).status).toBe(400);

    // One decision and one RunRequested per fire, although two replicas ticked five times a second.
    const pg = new Client({ connectionString: DATABASE_URL });
    await pg.connect();
    let started: { fire_time: Date; run_id: string; decided_by: string }[];
    try {
      const rows = await pg.query<{ fire_time: Date; run_id: string; decided_by: string }>(
        `SELECT fire_time, run_id, decided_by FROM "${sys.iso.schema}".schedule_fires
          WHERE schedule_id = $1 AND triggered_by = 'schedule' AND outcome = 'started'`,
        [id],
      );
      started = rows.rows;
      const all = await pg.query<{ n: string; distinct_times: string }>(
        `SELECT count(*) AS n, count(DISTINCT fire_time) AS distinct_times FROM "${sys.iso.schema}".schedule_fires
          WHERE schedule_id = $1 AND triggered_by = 'schedule'`,
        [id],
      );
      expect(all.rows[0]?.n).toBe(all.rows[0]?.distinct_times);
    } finally {
      await pg.end();
    }
    expect(started.length).toBeGreaterThanOrEqual(4);
    const nc = await connect({ servers: NATS_URL });
    try {
      const jsm = await jetstreamManager(nc);
      const info = await jsm.streams.info(sys.iso.topology.streams.runs.name, {
        subjects_filter: sys.iso.topology.anyRunSubject('requested'),
      });
      const subjects = info.state.subjects ?? {};
      for (const f of started) expect(subjects[sys.iso.topology.runSubject(f.run_id, 'requested')]).toBe(1);
    } finally {
      await nc.close();
    }

    expect((await api('DELETE', `/api/schedules/${id}`)).status).toBe(204);
    expect((await api('GET', `/api/schedules/${id}`)).status).toBe(404);
    expect((await api('DELETE', `/api/schedules/${id}`)).status).toBe(404);
  });
});
