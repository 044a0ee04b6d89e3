import { readdirSync, readFileSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import type { RunEvent } from '@runforge/contracts';
import { eventually } from '../support/eventually';
import { eventsOf, TERMINAL, withBus } from '../support/runs';
import { http, TestSystem, type ServiceProcess } from '../support/system';

// Program kinds end to end: the example kinds file (examples/programs/kinds.yaml) declared on the
// gateway and the workers, runs submitted through the generic endpoint, real Python processes.

const EXAMPLE_KINDS = join(__dirname, '..', '..', 'examples', 'programs', 'kinds.yaml');
/** Kinds that misbehave on purpose (a missing program, one that never exits…), beside the examples. */
const TEST_KINDS = join(__dirname, '..', 'fixtures', 'program-kinds.yaml');
const TEST_KIND_NAMES = [
  'test-missing',
  'test-not-executable',
  'test-silent',
  'test-slow',
  'test-slow-retryable',
  'test-garbage',
  'test-once-a-day',
];

interface RunAnswer {
  id: string;
  kind: string;
  status: string;
  progress: number;
  durationMs: number | null;
  attempt: number;
  errorMessage: string | null;
  errorCode: string | null;
  failureReason: string | null;
  result: { output?: { revenue: number; schedule: unknown[] } } | null;
  workerId: string | null;
}

/** The pids of live processes whose environment names this run (the program and its supervisor). */
function processesOfRun(runId: string): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const env = readFileSync(`/proc/${entry}/environ`, 'utf8');
      if (env.split('\0').includes(`RUNFORGE_RUN_ID=${runId}`)) pids.push(Number(entry));
    } catch {
      // gone meanwhile, or not ours to read
    }
  }
  return pids;
}

describe('program kinds: a declared program run as a managed job', () => {
  let sys: TestSystem;

  beforeAll(async () => {
    sys = await TestSystem.start(['gateway', 'projection', 'scheduler', 'engine-worker', 'engine-worker'], {
      RUNFORGE_PROGRAM_KINDS: `${EXAMPLE_KINDS}${delimiter}${TEST_KINDS}`,
      RUNFORGE_PROGRESS_INTERVAL_MS: '0',
    });
  });
  afterAll(async () => {
    await sys?.stop();
  });

  const submit = (body: unknown) => http<Record<string, unknown>>(sys.gateway.url, 'POST', '/api/runs', body);
  const run = async (id: string): Promise<RunAnswer> => {
    const r = await http<RunAnswer>(sys.gateway.url, 'GET', `/api/runs/${id}`);
    if (r.status !== 200) throw new Error(`GET /api/runs/${id}: ${r.status}`);
    return r.body;
  };
  const until = (id: string, accept: (r: RunAnswer) => boolean, what: string) =>
    eventually(what, () => run(id), accept, { timeoutMs: 60_000 });
  const ended = (id: string) => until(id, (r) => TERMINAL.includes(r.status), `run ${id} to end`);

  it('GET /api/kinds describes the built-in kinds and the declared ones, with their request schemas', async () => {
    interface Schema {
      properties: Record<string, Schema & Record<string, unknown>>;
    }
    const r = await http<{ items: { name: string; source: string; progressUnit: string; requestSchema: Schema }[] }>(
      sys.gateway.url,
      'GET',
      '/api/kinds',
    );
    expect(r.status).toBe(200);
    const byName = new Map(r.body.items.map((k) => [k.name, k]));
    expect([...byName.keys()]).toEqual([
      'backtest',
      'optimization',
      'dmo',
      'rmo',
      'so',
      'battery-dp',
      'shell-echo',
      'daily-report',
      ...TEST_KIND_NAMES,
    ]);
    expect(byName.get('backtest')).toMatchObject({ source: 'builtin', progressUnit: 'bars' });
    expect(byName.get('backtest')?.requestSchema.properties.strategy).toBeDefined();
    expect(byName.get('optimization')).toMatchObject({ progressUnit: 'combinations' });
    expect(byName.get('battery-dp')).toMatchObject({ source: 'program', progressUnit: 'percent' });
    expect(byName.get('battery-dp')?.requestSchema.properties.params?.properties.hours).toEqual({
      type: 'integer',
      minimum: 1,
      maximum: 744,
    });
  });

  it('refuses an unknown kind naming the known ones, and params the kind declares invalid, naming the field', async () => {
    const unknown = await submit({ kind: 'battery', params: {} });
    expect(unknown.status).toBe(400);
    expect(unknown.body.issues).toEqual([
      {
        field: 'kind',
        reason: `unknown kind "battery"; known kinds: backtest, optimization, dmo, rmo, so, battery-dp, shell-echo, daily-report, ${TEST_KIND_NAMES.join(', ')}`,
      },
    ]);
    const missing = await submit({ params: {} });
    expect(missing.status).toBe(400);
    expect(missing.body.issues).toEqual([expect.objectContaining({ field: 'kind' })]);

    const bad = await submit({ kind: 'battery-dp', params: { hours: 0, socSteps: 'many' } });
    expect(bad.status).toBe(400);
    const fields = (bad.body.issues as { field: string }[]).map((i) => i.field).sort();
    expect(fields).toEqual(['params.hours', 'params.socSteps']);
    const extra = await submit({ kind: 'battery-dp', params: {}, command: ['rm', '-rf', '/'] });
    expect(extra.status).toBe(400);
    expect(extra.body.issues).toEqual([{ field: 'command', reason: 'unknown field' }]);

    const listing = await http(sys.gateway.url, 'GET', '/api/runs?kind=battery');
    expect(listing.status).toBe(400);
  });

  it('runs battery_dp.py to Completed: progress rises, its log lines keep their levels, its result is stored', async () => {
    const r = await submit({ kind: 'battery-dp', params: { hours: 24, seed: 3, socSteps: 20 } });
    expect(r.status).toBe(202);
    expect(r.body).toMatchObject({ kind: 'battery-dp', status: 'Pending' });
    const id = r.body.id as string;
    const final = await ended(id);
    expect(final).toMatchObject({ kind: 'battery-dp', status: 'Completed', progress: 100, attempt: 1 });
    expect(final.durationMs).toBeGreaterThan(0);
    expect(final.result?.output?.revenue).toBeGreaterThan(0);
    expect(final.result?.output?.schedule).toHaveLength(24);

    const history = await withBus(sys, (bus) => bus.history(id));
    const percents = eventsOf(history, 'RunProgressed').map((e) => e.data.percent);
    expect(percents.length).toBeGreaterThan(3);
    expect([...percents].sort((a, b) => a - b)).toEqual(percents);
    expect(percents[percents.length - 1]).toBe(100);
    const logs = eventsOf(history, 'RunLogged').map((e) => `${e.data.level} ${e.data.message}`);
    expect(logs).toContain('INFO no prices given: 24 synthetic hours from seed 3');
    // Its terminal event is its last.
    expect(history[history.length - 1]?.event.type).toBe('RunCompleted');

    const listed = await http<{ items: { id: string; kind: string; progress: number }[] }>(
      sys.gateway.url,
      'GET',
      '/api/runs?kind=battery-dp',
    );
    expect(listed.body.items.find((i) => i.id === id)).toMatchObject({ kind: 'battery-dp', progress: 100 });
  });

  it('a program that fails ends Failed at once with its exit code and its error output, not retried', async () => {
    const r = await submit({ kind: 'battery-dp', params: { hours: 12, fail: true } });
    const final = await ended(r.body.id as string);
    expect(final).toMatchObject({ status: 'Failed', failureReason: 'error', errorCode: 'EXIT_1', attempt: 1 });
    expect(final.errorMessage).toContain('program battery-dp exited with code 1');
    expect(final.errorMessage).toContain('RuntimeError: failing on purpose');
  });

  it('cancel stops the program mid-run: the run is Cancelled and its processes are gone', async () => {
    const r = await submit({ kind: 'battery-dp', params: { hours: 200, sleepSeconds: 0.2 } });
    const id = r.body.id as string;
    await until(id, (s) => s.status === 'Running' && s.progress > 0, 'the program to make progress');
    expect(processesOfRun(id).length).toBeGreaterThan(0);
    const cancel = await http<{ status: string }>(sys.gateway.url, 'POST', `/api/runs/${id}/cancel`);
    expect([200, 202]).toContain(cancel.status);
    expect((await ended(id)).status).toBe('Cancelled');
    await eventually(
      'the program and its supervisor to exit',
      () => Promise.resolve(processesOfRun(id)),
      (p) => p.length === 0,
    );
  });

  it('a SIGKILLed worker leaves no program running, and another worker takes the run over to Completed', async () => {
    const r = await submit({ kind: 'battery-dp', params: { hours: 120, sleepSeconds: 0.05 } });
    const id = r.body.id as string;
    const running = await until(id, (s) => s.status === 'Running' && s.progress > 0, 'the program to make progress');
    const orphans = processesOfRun(id);
    expect(orphans.length).toBeGreaterThan(0);
    const pid = Number(running.workerId?.split('-').pop());
    const victim = sys.processes.find((p: ServiceProcess) => p.child.pid === pid);
    if (!victim) throw new Error(`no worker with pid ${pid}`);
    await sys.kill(victim, 'SIGKILL');
    await eventually(
      "the killed worker's program to exit",
      () => Promise.resolve(orphans.filter((p) => processesOfRun(id).includes(p))),
      (left) => left.length === 0,
    );
    const final = await ended(id);
    expect(final).toMatchObject({ status: 'Completed', attempt: 2, progress: 100 });
    const history = await withBus(sys, (bus) => bus.history(id));
    const abandoned: RunEvent[] = eventsOf(history, 'RunAttemptAbandoned');
    expect(abandoned.map((e) => e.data)).toEqual([{ abandonedAttempt: 1, reason: 'heartbeat_lost' }]);
  });

  it("a kind's maxRunsPerWindow holds under concurrent triggers: one 202, the others 409 with the next allowed time", async () => {
    const answers = await Promise.all(Array.from({ length: 6 }, () => submit({ kind: 'daily-report' })));
    const accepted = answers.filter((a) => a.status === 202);
    const refused = answers.filter((a) => a.status === 409);
    expect(accepted).toHaveLength(1);
    expect(refused).toHaveLength(5);
    const id = accepted[0]?.body.id as string;
    // The next local midnight in Amsterdam (UTC+1 in winter, UTC+2 in summer) after now.
    const next = new Date(refused[0]?.body.nextAllowedAt as string);
    expect(next.getTime()).toBeGreaterThan(Date.now());
    expect(next.getTime() - Date.now()).toBeLessThanOrEqual(25 * 3600_000);
    const local = new Intl.DateTimeFormat('en-GB', {
      timeZone: 'Europe/Amsterdam',
      hour: '2-digit',
      minute: '2-digit',
    });
    expect(local.format(next)).toBe('00:00');
    for (const r of refused) {
      expect(r.body).toMatchObject({ statusCode: 409, nextAllowedAt: next.toISOString(), runs: [id] });
      expect(r.body.message).toContain('at most 1 run of kind "daily-report" per calendar day in Europe/Amsterdam');
    }
    expect((await ended(id)).status).toBe('Completed');
    // Only the accepted run exists.
    const listed = await http<{ items: unknown[] }>(sys.gateway.url, 'GET', '/api/runs?kind=daily-report');
    expect(listed.body.items).toHaveLength(1);
  });

  describe('a program that cannot run, or misbehaves, ends clearly', () => {
    const failedAtOnce = async (kind: string) => {
      const r = await submit({ kind });
      expect(r.status).toBe(202);
      return ended(r.body.id as string);
    };

    it('a program that is not found fails on its first attempt, saying so (no retry storm)', async () => {
      const final = await failedAtOnce('test-missing');
      expect(final).toMatchObject({ status: 'Failed', failureReason: 'error', errorCode: 'SPAWN_FAILED', attempt: 1 });
      expect(final.errorMessage).toContain('program not found: runforge-no-such-program');
    });

    it('a program that is not executable fails on its first attempt, saying so', async () => {
      const final = await failedAtOnce('test-not-executable');
      expect(final).toMatchObject({ status: 'Failed', errorCode: 'SPAWN_FAILED', attempt: 1 });
      expect(final.errorMessage).toContain('not executable');
    });

    it('a program that goes silent is stopped by the stall clock, and its processes are gone', async () => {
      const r = await submit({ kind: 'test-silent' });
      const id = r.body.id as string;
      const final = await ended(id);
      expect(final).toMatchObject({ status: 'Failed', failureReason: 'attempts_exhausted' });
      expect(final.errorMessage).toContain('the last attempt stopped making progress');
      const history = await withBus(sys, (bus) => bus.history(id));
      expect(eventsOf(history, 'RunAttemptAbandoned').map((e) => e.data.reason)).toEqual(['stalled']);
      await eventually(
        'its processes to exit',
        () => Promise.resolve(processesOfRun(id)),
        (p) => p.length === 0,
      );
    });

    it('a program past its time budget fails with reason timeout when its kind says a timeout is final', async () => {
      const final = await failedAtOnce('test-slow');
      expect(final).toMatchObject({ status: 'Failed', failureReason: 'timeout', attempt: 1 });
    });

    it('a kind with retryable timeouts records each timed-out attempt abandoned, and retries while it may', async () => {
      const r = await submit({ kind: 'test-slow-retryable' });
      const id = r.body.id as string;
      const final = await ended(id);
      expect(final).toMatchObject({ status: 'Failed', failureReason: 'attempts_exhausted' });
      expect(final.errorMessage).toContain('(maxRetries 1): each attempt ran out of time');
      const history = await withBus(sys, (bus) => bus.history(id));
      expect(eventsOf(history, 'RunAttemptAbandoned').map((e) => e.data)).toEqual([
        expect.objectContaining({ abandonedAttempt: 1, reason: 'timeout' }),
        expect.objectContaining({ abandonedAttempt: 2, reason: 'timeout' }),
      ]);
    });

    it('garbage on stdout becomes logs, a bad RESULT a warning, and the last good RESULT wins', async () => {
      const r = await submit({ kind: 'test-garbage' });
      const id = r.body.id as string;
      const final = await ended(id);
      expect(final).toMatchObject({ status: 'Completed', result: { output: { ok: 1 } } });
      const history = await withBus(sys, (bus) => bus.history(id));
      const logs = eventsOf(history, 'RunLogged').map((e) => e.data);
      expect(logs).toContainEqual(
        expect.objectContaining({ level: 'INFO', message: expect.stringContaining('garbage') }),
      );
      expect(logs).toContainEqual(expect.objectContaining({ level: 'INFO', message: 'PROGRESS:abc' }));
      expect(logs).toContainEqual(
        expect.objectContaining({ level: 'WARNING', message: expect.stringMatching(/RESULT/) }),
      );
    });
  });

  it("a schedule runs a program kind, and its manual triggers count against the kind's window like the API's", async () => {
    const created = await http<{ id: string }>(sys.gateway.url, 'POST', '/api/schedules', {
      name: 'once a day',
      cron: '0 3 * * *',
      template: { kind: 'test-once-a-day' },
    });
    expect(created.status).toBe(201);
    const bad = await http<{ issues: unknown[] }>(sys.gateway.url, 'POST', '/api/schedules', {
      name: 'bad params',
      cron: '0 3 * * *',
      template: { kind: 'battery-dp', params: { hours: 0 } },
    });
    expect(bad.status).toBe(400);
    expect(bad.body.issues).toEqual([{ field: 'template.params.hours', reason: expect.stringContaining('>= 1') }]);

    const first = await http<{ id: string }>(sys.gateway.url, 'POST', `/api/schedules/${created.body.id}/trigger`);
    expect(first.status).toBe(202);
    const final = await ended(first.body.id);
    expect(final).toMatchObject({ kind: 'test-once-a-day', status: 'Completed', result: { output: 1 } });

    const second = await http<{ outcome: string; message: string; nextAllowedAt: string }>(
      sys.gateway.url,
      'POST',
      `/api/schedules/${created.body.id}/trigger`,
    );
    expect(second.status).toBe(409);
    expect(second.body.outcome).toBe('limited');
    expect(second.body.message).toContain('at most 1 run of kind "test-once-a-day" per calendar day in UTC');
    expect(new Date(second.body.nextAllowedAt).getUTCHours()).toBe(0);
    const viaApi = await submit({ kind: 'test-once-a-day' });
    expect(viaApi.status).toBe(409);
    expect(viaApi.body.runs).toEqual([first.body.id]);
  });

  it('the built-in kinds go through the same endpoint', async () => {
    const r = await submit({
      kind: 'backtest',
      strategy: 'sma-crossover',
      params: { fast: 5, slow: 20 },
      dataset: { synthetic: { bars: 5_000, seed: 1, timeframe: '1m' } },
    });
    expect(r.status).toBe(202);
    expect(r.body).toMatchObject({ kind: 'backtest', status: 'Pending', totalBars: 5_000 });
    const final = await ended(r.body.id as string);
    expect(final).toMatchObject({ kind: 'backtest', status: 'Completed', progress: 100 });
    expect(final.durationMs).toBeGreaterThanOrEqual(0);
  });
});
