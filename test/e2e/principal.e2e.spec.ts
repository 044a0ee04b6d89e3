import { connect } from '@nats-io/transport-node';
import { jetstreamManager } from '@nats-io/jetstream';
import { eventually } from '../support/eventually';
import { eventsOf, withBus } from '../support/runs';
import { http, NATS_URL, TestSystem } from '../support/system';

/** Who did what: the principal recorded on the events a request causes, and shown and filtered on. */
describe('the principal in the audit log', () => {
  let sys: TestSystem;
  let operator: string;
  let operatorId: string;
  const as = (key: string) => ({ authorization: `Bearer ${key}` });

  beforeAll(async () => {
    // No worker: runs stay Pending, which is all the audit needs. (That no secret reaches the
    // history, the logs or any answer is checked over a whole flow in least-privilege.e2e.spec.ts.)
    sys = await TestSystem.start(['gateway', 'projection']);
    operator = await sys.createKey('operator', 'ci-bot');
    operatorId = (await http<{ principal: { id: string } }>(sys.gateway.url, 'GET', '/api/me', undefined, as(operator)))
      .body.principal.id;
  });

  afterAll(async () => {
    await sys?.stop();
  });

  const backtest = {
    strategy: 'sma-crossover',
    params: { fast: 5, slow: 20 },
    dataset: { synthetic: { bars: 1_000, seed: 1, timeframe: '1h' } },
  };

  it('records the key on RunRequested and RunCancellationRequested, and shows it on the run', async () => {
    const submitted = await http<{ id: string }>(sys.gateway.url, 'POST', '/api/backtests', backtest, as(operator));
    expect(submitted.status).toBe(202);
    const id = submitted.body.id;
    const principal = { kind: 'key', id: operatorId, name: 'ci-bot' };

    const run = await eventually(
      'the run in the read model',
      async () => http<{ principal?: unknown }>(sys.gateway.url, 'GET', `/api/runs/${id}`),
      (r) => r.status === 200,
    );
    expect(run.body.principal).toEqual(principal);
    const status = await http<{ principal?: unknown }>(sys.gateway.url, 'GET', `/api/backtests/${id}/status`);
    expect(status.body.principal).toEqual(principal);

    // Cancelled by the admin: the cancellation names the admin, not the submitter.
    expect((await http(sys.gateway.url, 'POST', `/api/runs/${id}/cancel`)).status).toBe(200);
    const history = await withBus(sys, (bus) => bus.history(id));
    expect(eventsOf(history, 'RunRequested')[0]?.data.principal).toEqual(principal);
    expect(eventsOf(history, 'RunCancellationRequested')[0]?.data.principal).toMatchObject({
      kind: 'key',
      name: 'test-admin',
    });
    // The audit endpoint shows the same.
    const events = await http<{ events: { type: string; data: { principal?: unknown } }[] }>(
      sys.gateway.url,
      'GET',
      `/api/runs/${id}/events`,
    );
    expect(events.body.events.find((e) => e.type === 'RunRequested')?.data.principal).toEqual(principal);
  });

  it('filters the listing by principal', async () => {
    const mine = await http<{ id: string }>(sys.gateway.url, 'POST', '/api/backtests', backtest, as(operator));
    const theirs = await http<{ id: string }>(sys.gateway.url, 'POST', '/api/backtests', backtest);
    const listed = await eventually(
      'both runs listed',
      async () => (await http<{ items: { id: string }[] }>(sys.gateway.url, 'GET', '/api/runs?limit=500')).body.items,
      (items) => [mine.body.id, theirs.body.id].every((id) => items.some((r) => r.id === id)),
    );
    expect(listed.length).toBeGreaterThan(1);
    const filtered = await http<{ items: { id: string; principal: { id: string } }[] }>(
      sys.gateway.url,
      'GET',
      `/api/runs?principal=${operatorId}&limit=500`,
    );
    expect(filtered.status).toBe(200);
    expect(filtered.body.items.map((r) => r.id)).toContain(mine.body.id);
    expect(filtered.body.items.map((r) => r.id)).not.toContain(theirs.body.id);
    expect(filtered.body.items.every((r) => r.principal.id === operatorId)).toBe(true);
  });

  it('records who changed a schedule on its ScheduleChanged', async () => {
    const created = await http<{ id: string }>(sys.gateway.url, 'POST', '/api/schedules', {
      name: `audit-${Date.now()}`,
      cron: '0 10 * * *',
      timezone: 'UTC',
      template: { kind: 'backtest', ...backtest },
    });
    expect(created.status).toBe(201);
    const nc = await connect({ servers: NATS_URL });
    try {
      const jsm = await jetstreamManager(nc);
      const t = sys.iso.topology;
      const stored = await jsm.streams.getMessage(t.streams.schedules.name, {
        last_by_subj: t.scheduleChangeSubject(created.body.id, 'created'),
      });
      expect(stored?.json<{ principal?: unknown }>().principal).toMatchObject({ kind: 'key', name: 'test-admin' });
    } finally {
      await nc.close();
    }
  });
});
