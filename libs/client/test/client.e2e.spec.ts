import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { RunForgeClient, RunForgeError, type StreamedRun } from '@runforge/client';
import { ROOT, TestSystem } from '../../../test/support/system';

/**
 * The typed client against the real system (services as processes, real NATS and Postgres). Runs of
 * the `test-gated` program kind (test/fixtures/gated-kinds.yaml) stay Running until the test
 * creates their gate file, so progress and endings are observed without timing assumptions.
 */
describe('RunForgeClient', () => {
  let sys: TestSystem;
  let client: RunForgeClient;
  let gates: string;

  /** The one place the tests' client is made (the credential goes here once the gateway asks for one). */
  const clientFor = (s: TestSystem): RunForgeClient => new RunForgeClient({ url: s.gateway.url, apiKey: s.apiKey });

  beforeAll(async () => {
    sys = await TestSystem.start(undefined, {
      RUNFORGE_PROGRESS_INTERVAL_MS: '100',
      RUNFORGE_PROGRAM_KINDS: path.join(ROOT, 'test/fixtures/gated-kinds.yaml'),
    });
    client = clientFor(sys);
    gates = mkdtempSync(path.join(tmpdir(), 'rf-client-'));
  });

  afterAll(async () => {
    await sys?.stop();
    if (gates) rmSync(gates, { recursive: true, force: true });
  });

  const gate = (name: string): { path: string; open: () => void } => {
    const file = path.join(gates, name);
    return { path: file, open: () => writeFileSync(file, '') };
  };

  it('watches a run: its state at once, its progress, then its end; result() answers the end', async () => {
    const g = gate('watch');
    const submitted = await client.submit('test-gated', { params: { gate: g.path } });
    expect(submitted).toMatchObject({ kind: 'test-gated', status: 'Pending' });
    const seen: StreamedRun[] = [];
    for await (const run of client.watch(submitted.id)) {
      seen.push(run);
      if (run.status === 'Running' && run.progress >= 10 && !existsSync(g.path)) g.open();
    }
    const last = seen[seen.length - 1];
    expect(last).toMatchObject({ id: submitted.id, status: 'Completed', progress: 100 });
    expect(seen.some((r) => r.status === 'Running' && r.progress > 0 && r.progress < 100)).toBe(true);
    const result = await client.result(submitted.id);
    expect(result.status).toBe('Completed');
    expect(result.result).toMatchObject({ output: { ok: true } });
  });

  it('turns refusals into RunForgeError with the status and the issues per field', async () => {
    const bad = await client
      .submit('backtest', {
        strategy: 'sma-crossover',
        params: { fast: 50, slow: 30 },
        dataset: { synthetic: { bars: 2000, seed: 1, timeframe: '1h' } },
      })
      .catch((e: unknown) => e);
    expect(bad).toBeInstanceOf(RunForgeError);
    expect((bad as RunForgeError).status).toBe(400);
    expect((bad as RunForgeError).isBadInput).toBe(true);
    expect((bad as RunForgeError).issues).toContainEqual(
      expect.objectContaining({ field: 'params.fast', reason: expect.stringContaining('less than slow') }),
    );
    const unknown = await client.status('no-such-run').catch((e: unknown) => e);
    expect(unknown).toMatchObject({ status: 404, message: expect.stringContaining('no-such-run') });
    const watchUnknown = (async () => {
      for await (const _ of client.watch('no-such-run')) return 'yielded';
      return 'ended';
    })();
    await expect(watchUnknown).rejects.toMatchObject({ status: 404 });
    const unreachable = await new RunForgeClient({ url: 'http://127.0.0.1:1' }).status('x').catch((e: unknown) => e);
    expect(unreachable).toMatchObject({ status: 0 });
    expect((unreachable as RunForgeError).explanation).toMatch(/cannot be reached/);
  });

  it('cancels a running run: its watch ends Cancelled', async () => {
    const g = gate('cancel');
    const { id } = await client.submit('test-gated', { params: { gate: g.path } });
    let cancelled: unknown;
    let last: StreamedRun | undefined;
    for await (const run of client.watch(id)) {
      last = run;
      if (run.status === 'Running' && cancelled === undefined) cancelled = await client.cancel(id);
    }
    expect(cancelled).toMatchObject({ id });
    expect(last?.status).toBe('Cancelled');
    const again = await client.cancel(id).catch((e: unknown) => e);
    expect(again).toMatchObject({ status: 409 });
  });

  it('stops watching when asked, and the run goes on to its end', async () => {
    const g = gate('leave');
    const { id } = await client.submit('test-gated', { params: { gate: g.path } });
    const stop = new AbortController();
    let seen = 0;
    for await (const run of client.watch(id, { signal: stop.signal })) {
      seen++;
      if (run.status === 'Running') stop.abort();
    }
    expect(seen).toBeGreaterThan(0);
    expect((await client.status(id)).status).toBe('Running');
    g.open();
    expect((await client.result(id)).status).toBe('Completed');
  });

  it('follows a run’s logs until it ends, from the minimum level asked', async () => {
    const g = gate('logs');
    const { id } = await client.submit('test-gated', { params: { gate: g.path, fail: true } });
    const all: string[] = [];
    for await (const line of client.followLogs(id, { pollMs: 100 })) {
      all.push(`${line.level} ${line.message}`);
      if (line.message.includes('waiting for the gate')) g.open();
    }
    expect(all).toEqual(
      expect.arrayContaining(['INFO waiting for the gate', 'WARNING the gate opened', 'ERROR failing on purpose']),
    );
    const warnings: string[] = [];
    for await (const line of client.followLogs(id, { level: 'WARNING' })) warnings.push(line.level);
    expect(warnings.length).toBeGreaterThan(0);
    expect(warnings.every((l) => l === 'WARNING' || l === 'ERROR')).toBe(true);
    expect((await client.status(id)).status).toBe('Failed');
  });

  it('lists runs, trials (failed ones with their message), the audit history, and retries', async () => {
    const submitted = await client.submit('optimization', {
      strategy: 'sma-crossover',
      axes: { fast: [5, 40], slow: [20, 30] },
      dataset: { synthetic: { bars: 2000, seed: 5, timeframe: '1h' } },
    });
    expect(submitted.totalCombinations).toBe(4);
    const end = await client.result(submitted.id);
    expect(end).toMatchObject({ status: 'Completed', completedCombinations: 2, failedCombinations: 2 });

    const failed = await client.trials(submitted.id, { status: 'Failed' });
    expect(failed.items).toHaveLength(2);
    for (const t of failed.items) {
      expect(t).toMatchObject({ status: 'Failed', params: { fast: 40 } });
      expect(t.errorMessage).toMatch(/fast .* must be less than slow/);
    }
    const best = await client.trials(submitted.id, { status: 'Completed', sort: '-score', limit: 1 });
    expect(best.items[0]?.params).toMatchObject({ fast: 5 });

    const history = await client.events(submitted.id);
    expect(history.events[0]?.type).toBe('RunRequested');
    expect(history.events[history.events.length - 1]?.type).toBe('RunCompleted');

    const listed = await client.list({ kind: 'optimization', status: ['Completed'] });
    expect(listed.items.map((r) => r.id)).toContain(submitted.id);
    const none = await client.list({ kind: 'optimization', status: 'Failed' });
    expect(none.items.map((r) => r.id)).not.toContain(submitted.id);

    const retried = await client.retry(submitted.id);
    expect(retried).toMatchObject({ status: 'Pending', retryOf: submitted.id });
    expect((await client.result(retried.id)).status).toBe('Completed');
  });

  it('manages schedules and datasets', async () => {
    const created = await client.schedules.create({
      name: 'client-test',
      cron: '0 3 * * *',
      timezone: 'Europe/Amsterdam',
      template: { kind: 'test-gated', params: { gate: gate('schedule').path } },
    });
    expect(created.nextFireTimes.length).toBeGreaterThan(0);
    expect((await client.schedules.pause(created.id)).paused).toBe(true);
    expect((await client.schedules.resume(created.id)).paused).toBe(false);
    const triggered = await client.schedules.trigger(created.id);
    expect(triggered).toMatchObject({ scheduleId: created.id, triggeredBy: 'manual' });
    await client.cancel(triggered.id).catch(() => undefined);
    expect((await client.schedules.list()).items.map((s) => s.id)).toContain(created.id);

    const csv =
      'timestamp,open,high,low,close,volume\n2026-01-01T00:00:00Z,1,2,0.5,1.5,10\n2026-01-01T01:00:00Z,1.5,2,1,1.8,12\n';
    const uploaded = await client.datasets.upload(csv, { symbol: 'TEST', timeframe: '1h' });
    expect(uploaded).toMatchObject({ symbol: 'TEST', bars: 2 });
    expect((await client.datasets.list()).items.map((d) => d.id)).toContain(uploaded.id);
    const bad = await client.datasets
      .upload(`${csv}2026-01-01T02:00:00Z,1,0.5,2,1,1\n`, { symbol: 'TEST' })
      .catch((e: unknown) => e);
    expect(bad).toMatchObject({ status: 400 });
    expect((bad as RunForgeError).issues[0]?.field).toMatch(/^line 4/);
  });
});
