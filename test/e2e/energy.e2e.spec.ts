import { eventually } from '../support/eventually';
import { eventsOf, TERMINAL, withBus } from '../support/runs';
import { http, TestSystem } from '../support/system';
import { TEST_ASSET as ASSET } from '../support/energy';

// The energy models as kinds, end to end: data sources (synthetic and CSV), DMO / RMO / SO solved by
// HiGHS on the workers, once-a-day DMO per data source, the seed's cadences as schedules.

interface Run {
  id: string;
  kind: string;
  status: string;
  progress: number;
  durationMs: number | null;
  errorMessage: string | null;
  errorCode: string | null;
  result: {
    model: string;
    solver_status: string;
    objective_value: number | null;
    solver_time_ms: number;
    results_count: number;
    schedule: { chargeMW: number; dischargeMW: number; socMWh: number; start?: string }[];
    committed_from?: string;
  } | null;
  logs: { level: string; message: string }[];
}

describe('energy models: DMO, RMO and SO as kinds', () => {
  let sys: TestSystem;
  let source: string;

  beforeAll(async () => {
    sys = await TestSystem.start(['gateway', 'projection', 'scheduler', 'engine-worker']);
    const r = await http<{ id: string; intervals: number }>(sys.gateway.url, 'POST', '/api/energy/sources', {
      name: 'test battery',
      asset: ASSET,
      synthetic: { seed: 7, days: 5 },
    });
    expect(r.status).toBe(201);
    expect(r.body.intervals).toBe(5 * 96);
    source = r.body.id;
  });
  afterAll(async () => {
    await sys?.stop();
  });

  const submit = (body: Record<string, unknown>) =>
    http<Record<string, unknown>>(sys.gateway.url, 'POST', '/api/runs', body);
  const ended = (id: string) =>
    eventually(
      `run ${id} to end`,
      async () => (await http<Run>(sys.gateway.url, 'GET', `/api/runs/${id}`)).body,
      (r) => TERMINAL.includes(r.status),
      { timeoutMs: 60_000 },
    );

  it('DMO plans the next delivery day: Completed with an objective, a plan per interval, phases and logs; once a day', async () => {
    const r = await submit({ kind: 'dmo', data_source_id: source, triggered_by: 'alice' });
    expect(r.status).toBe(202);
    expect(r.body).toMatchObject({ kind: 'dmo', status: 'Pending', intervals: expect.any(Number) });
    const id = r.body.id as string;
    const run = await ended(id);
    expect(run).toMatchObject({ status: 'Completed', progress: 100, kind: 'dmo' });
    expect(run.result).toMatchObject({ model: 'dmo', solver_status: 'optimal', results_count: r.body.intervals });
    expect(run.result?.objective_value).toBeGreaterThan(0);
    expect(run.result?.solver_time_ms).toBeGreaterThan(0);
    // The state of charge stays within the asset's bounds in every interval (one row per interval).
    expect(run.result?.schedule).toHaveLength(r.body.intervals as number);
    for (const row of run.result?.schedule ?? []) {
      expect(row.socMWh).toBeGreaterThanOrEqual(ASSET.socMinMWh - 1e-6);
      expect(row.socMWh).toBeLessThanOrEqual(ASSET.socMaxMWh + 1e-6);
    }
    const history = await withBus(sys, (bus) => bus.history(id));
    expect(eventsOf(history, 'RunProgressed').map((e) => e.data.percent)).toEqual([20, 40, 90]);
    expect(run.logs.map((l) => l.message)).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^data loaded/),
        expect.stringMatching(/^DMO completed: objective/),
      ]),
    );

    // The seed's listing: by model type and status, with log counts.
    const listed = await http<{ items: { id: string; logCount: number; progress: number; durationMs: number }[] }>(
      sys.gateway.url,
      'GET',
      '/api/runs?kind=dmo&status=Completed',
    );
    expect(listed.body.items.find((i) => i.id === id)).toMatchObject({ logCount: run.logs.length, progress: 100 });

    const again = await submit({ kind: 'dmo', data_source_id: source });
    expect(again.status).toBe(409);
    expect(again.body).toMatchObject({ runs: [id], nextAllowedAt: expect.any(String) });
    expect(again.body.message).toContain('per calendar day in Europe/Amsterdam');
  });

  it('RMO re-plans the committed DMO position at intraday prices; SO gives set-points from the current state', async () => {
    const dmo = await submit({ kind: 'dmo', data_source_id: source });
    // Either this test's own DMO (run first) or the one of the test above holds today's slot.
    const committedBy =
      dmo.status === 202 ? (dmo.body.id as string) : ((dmo.body.runs as string[] | undefined)?.[0] as string);
    expect(committedBy).toBeDefined();
    const dmoRun = await ended(committedBy);
    const deliveryStart = dmoRun.result?.schedule[0]?.start as string;
    const rmo = await submit({ kind: 'rmo', data_source_id: source, from: deliveryStart, intervals: 48 });
    expect(rmo.status).toBe(202);
    const rmoRun = await ended(rmo.body.id as string);
    expect(rmoRun).toMatchObject({ status: 'Completed' });
    expect(rmoRun.result).toMatchObject({ model: 'rmo', results_count: 48, committed_from: committedBy });

    const so = await submit({ kind: 'so', data_source_id: source, from: deliveryStart, initial_soc_mwh: 2 });
    expect(so.status).toBe(202);
    const soRun = await ended(so.body.id as string);
    expect(soRun.result).toMatchObject({ model: 'so', results_count: 16 });
    expect(soRun.result?.schedule[0]?.socMWh).toBeGreaterThanOrEqual(1 - 1e-6);
  });

  it('refuses what the data cannot support: an uncovered horizon names the missing intervals; bad config names the field', async () => {
    const uncovered = await submit({ kind: 'dmo', data_source_id: source, delivery_date: '2030-01-01' });
    expect(uncovered.status).toBe(400);
    expect(uncovered.body.issues).toEqual([
      {
        field: 'data_source_id',
        reason: expect.stringMatching(
          /does not cover the DMO horizon .* 96 intervals missing: 2029-12-31T23:00:00.000Z to 2030-01-01T22:45:00.000Z$/,
        ),
      },
    ]);
    const bad = await submit({ kind: 'so', data_source_id: 'nope', model_config: { mipgap: 1 } });
    expect(bad.status).toBe(400);
    expect(bad.body.issues).toEqual([
      { field: 'model_config.mipgap', reason: 'unknown field' },
      { field: 'data_source_id', reason: 'unknown data source "nope"' },
    ]);
  });

  it('an infeasible model ends Failed with the solver status and the reason', async () => {
    const r = await http<{ id: string }>(sys.gateway.url, 'POST', '/api/energy/sources', {
      name: 'unreachable',
      // 1 MWh a quarter-hour at most cannot bring 1 MWh up to 9 MWh within an hour.
      asset: { ...ASSET, powerMW: 1, initialSocMWh: 1, finalSocMinMWh: 9 },
      synthetic: { seed: 3, days: 3 },
    });
    const from = new Date(Math.floor(Date.now() / 900_000) * 900_000).toISOString();
    const so = await submit({ kind: 'so', data_source_id: r.body.id, from, intervals: 4 });
    expect(so.status).toBe(202);
    const run = await ended(so.body.id as string);
    expect(run).toMatchObject({ status: 'Failed', errorCode: 'SOLVER_INFEASIBLE' });
    expect(run.errorMessage).toMatch(/^solver status infeasible: final state of charge 9 MWh is unreachable/);
  });

  describe('a long MIP (28 days of quarter-hours, a small battery, negative hours)', () => {
    let longSource: string;
    const from = '2026-01-01T00:00:00.000Z';
    beforeAll(async () => {
      const r = await http<{ id: string }>(sys.gateway.url, 'POST', '/api/energy/sources', {
        name: 'long horizon',
        asset: { ...ASSET, capacityMWh: 2, powerMW: 1, socMaxMWh: 2, socMinMWh: 0, initialSocMWh: 1 },
        synthetic: { seed: 11, days: 30, fromDate: '2026-01-01', negativeHours: 6 },
      });
      longSource = r.body.id;
    });

    it('stopped by its time limit: Completed with status time_limit, its gap and a WARNING', async () => {
      const r = await submit({
        kind: 'so',
        data_source_id: longSource,
        from,
        intervals: 2688,
        model_config: { integer: 'always', time_limit: 1 },
      });
      expect(r.status).toBe(202);
      const run = await ended(r.body.id as string);
      expect(run.status).toBe('Completed');
      expect(run.result?.solver_status).toBe('time_limit');
      expect(run.logs.map((l) => `${l.level} ${l.message}`)).toContainEqual(
        expect.stringMatching(/^WARNING time limit reached: the plan is the best found, with a MIP gap of/),
      );
    });

    it('cancelled while solving: the solve stops (its thread is terminated) and the run is Cancelled, its worker heart-beating throughout', async () => {
      const r = await submit({
        kind: 'so',
        data_source_id: longSource,
        from,
        intervals: 2688,
        model_config: { integer: 'always', time_limit: 120, mip_gap: 0 },
      });
      const id = r.body.id as string;
      await eventually(
        'the solve to start',
        async () => (await http<Run>(sys.gateway.url, 'GET', `/api/runs/${id}`)).body,
        (s) => s.progress >= 40,
      );
      const cancel = await http<{ status: string }>(sys.gateway.url, 'POST', `/api/runs/${id}/cancel`);
      expect(cancel.status).toBe(200);
      expect(cancel.body.status).toBe('Cancelled');
      const history = await withBus(sys, (bus) => bus.history(id));
      expect(eventsOf(history, 'RunAttemptAbandoned')).toEqual([]);
      expect(eventsOf(history, 'RunCancelled')).toHaveLength(1);
    });
  });

  it('a CSV data source is validated with line numbers', async () => {
    const csv = ['timestamp,day_ahead', '2026-01-01T00:00:00Z,50', '2026-01-01T01:00:00Z,abc'].join('\n');
    const r = await http<{ issues: { field: string; reason: string }[] }>(
      sys.gateway.url,
      'POST',
      '/api/energy/sources',
      {
        name: 'bad csv',
        asset: ASSET,
        csv,
      },
    );
    expect(r.status).toBe(400);
    expect(r.body.issues[0]?.reason).toMatch(/^line 3/);
  });

  it("creates the seed's three cadences for a data source in one call, and they fire through the scheduler", async () => {
    const r = await http<{ items: { name: string; cron: string; timezone: string; template: { kind: string } }[] }>(
      sys.gateway.url,
      'POST',
      `/api/energy/sources/${source}/cadences`,
    );
    expect(r.status).toBe(201);
    expect(r.body.items.map((s) => [s.template.kind, s.cron, s.timezone])).toEqual([
      ['dmo', '0 10 * * *', 'Europe/Amsterdam'],
      ['rmo', '*/30 * * * *', 'Europe/Amsterdam'],
      ['so', '*/15 * * * *', 'Europe/Amsterdam'],
    ]);
    const again = await http<{ items: { id: string }[] }>(
      sys.gateway.url,
      'POST',
      `/api/energy/sources/${source}/cadences`,
    );
    expect(again.body.items.map((s) => s.id)).toEqual(r.body.items.map((s) => (s as unknown as { id: string }).id));
    // A manual trigger of the SO cadence runs an SO through the scheduler's path.
    const so = r.body.items[2] as unknown as { id: string };
    const fired = await http<{ id: string }>(sys.gateway.url, 'POST', `/api/schedules/${so.id}/trigger`);
    expect(fired.status).toBe(202);
    expect(await ended(fired.body.id)).toMatchObject({ kind: 'so', status: 'Completed' });
  });
});
