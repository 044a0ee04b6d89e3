import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { eventually } from '../support/eventually';
import { http, ROOT, TestSystem, type HttpAnswer } from '../support/system';

/**
 * The built `runforge` CLI (apps/cli, `npm run build`) as a child process against the real system.
 * Runs of the `test-gated` program kind (test/fixtures/gated-kinds.yaml) stay Running until the test
 * creates their gate file, so watching, cancelling and Ctrl-C are tested without timing assumptions.
 */

const BIN = path.join(ROOT, 'apps/cli/bin/runforge.js');

interface CliAnswer {
  code: number | null;
  stdout: string;
  stderr: string;
}

interface CliProcess {
  child: ChildProcess;
  stdout: () => string;
  stderr: () => string;
  done: Promise<CliAnswer>;
}

describe('runforge CLI', () => {
  let sys: TestSystem;
  let gates: string;

  /** The one place the CLI's environment is made: the gateway's URL and the system's admin key. */
  const cliEnv = (s: TestSystem): NodeJS.ProcessEnv => ({
    ...process.env,
    RUNFORGE_URL: s.gateway.url,
    RUNFORGE_API_KEY: s.apiKey,
    NO_COLOR: '1',
  });

  /** The one place the tests call the API directly. */
  const api = <T = Record<string, unknown>>(method: string, url: string, body?: unknown): Promise<HttpAnswer<T>> =>
    http<T>(sys.gateway.url, method, url, body);

  const start = (args: readonly string[]): CliProcess => {
    const child = spawn(process.execPath, [BIN, ...args], {
      cwd: ROOT,
      env: cliEnv(sys),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    child.stdout?.on('data', (c: Buffer) => (out += c.toString()));
    child.stderr?.on('data', (c: Buffer) => (err += c.toString()));
    const done = new Promise<CliAnswer>((resolve) =>
      child.once('close', (code) => resolve({ code, stdout: out, stderr: err })),
    );
    return { child, stdout: () => out, stderr: () => err, done };
  };

  const cli = (...args: string[]): Promise<CliAnswer> => start(args).done;

  const json = <T = Record<string, unknown>>(answer: CliAnswer): T => {
    expect(answer).toMatchObject({ code: 0 });
    return JSON.parse(answer.stdout) as T;
  };

  const gate = (name: string): { path: string; open: () => void } => {
    const file = path.join(gates, name);
    return { path: file, open: () => writeFileSync(file, '') };
  };

  /** Waits until the child's output says something (the CLI is a separate process: poll what it printed). */
  const untilPrinted = (what: string, read: () => string, pattern: RegExp): Promise<string> =>
    eventually(
      what,
      () => Promise.resolve(read()),
      (text) => pattern.test(text),
      { timeoutMs: 60_000 },
    );

  const widest = (text: string): number => Math.max(...text.split('\n').map((l) => l.length));

  beforeAll(async () => {
    sys = await TestSystem.start(undefined, {
      RUNFORGE_PROGRESS_INTERVAL_MS: '100',
      RUNFORGE_PROGRAM_KINDS: path.join(ROOT, 'test/fixtures/gated-kinds.yaml'),
    });
    gates = mkdtempSync(path.join(tmpdir(), 'rf-cli-'));
  });

  afterAll(async () => {
    await sys?.stop();
    if (gates) rmSync(gates, { recursive: true, force: true });
  });

  it('submits and watches a run: progress as it goes, then the summary, exit 0', async () => {
    const g = gate('watch');
    const proc = start(['submit', 'test-gated', '--param', `gate=${g.path}`, '--watch']);
    // Not a terminal: one line per change on stderr, the id and the summary on stdout.
    await untilPrinted('the run to be seen at 10 %', proc.stderr, /Running\s+10%/);
    g.open();
    const end = await proc.done;
    expect(end.code).toBe(0);
    const [id, ...summary] = end.stdout.trim().split('\n');
    expect(id).toMatch(/^[0-9a-f-]{36}$/);
    expect(summary.join('\n')).toMatch(new RegExp(`^Completed in .+: test-gated ${id}`));
    expect(summary.join('\n')).toMatch(/^Ok\s+true$/m);
    expect(end.stderr).toMatch(/Completed\s+100%/);
    expect((await api<{ status: string }>('GET', `/api/runs/${id}`)).body.status).toBe('Completed');
  });

  it('watches a backtest to its metrics, labelled, within 80 columns', async () => {
    const end = await cli(
      'submit',
      'backtest',
      '--strategy',
      'sma-crossover',
      '-p',
      'fast=10',
      '-p',
      'slow=30',
      '--bars',
      '200000',
      '--timeframe',
      '1m',
      '--watch',
    );
    expect(end.code).toBe(0);
    expect(end.stdout).toMatch(/Completed in .+: backtest/);
    expect(end.stdout).toMatch(/Total return\s+-?[\d,.]+ %/);
    expect(end.stdout).toMatch(/Longest drawdown\s+[\d,]+ bars/);
    expect(end.stdout).not.toContain('maxDrawdownDurationBars');
    expect(end.stderr).toMatch(/200,000|200K/);
    expect(widest(end.stdout)).toBeLessThanOrEqual(80);
    expect(widest(end.stderr)).toBeLessThanOrEqual(80);
  });

  it('refuses bad input with exit 2, naming the field and the reason', async () => {
    const bad = await cli(
      'submit',
      'backtest',
      '--strategy',
      'sma-crossover',
      '-p',
      'fast=50',
      '-p',
      'slow=30',
      '--bars',
      '2000',
    );
    expect(bad.code).toBe(2);
    expect(bad.stdout).toBe('');
    expect(bad.stderr).toContain('error: request validation failed');
    expect(bad.stderr).toMatch(/^ {2}params\.fast: fast \(50\) must be less than slow \(30\)$/m);

    const badJson = await cli('--json', 'submit', 'backtest', '--strategy', 'sma-crossover', '--bars', '1');
    expect(badJson.code).toBe(2);
    const body = JSON.parse(badJson.stdout) as { status: number; issues: { field: string }[] };
    expect(body.status).toBe(400);
    expect(body.issues.map((i) => i.field)).toContain('dataset.synthetic.bars');

    const unknown = await cli('watch', 'no-such-run');
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain('no run with id "no-such-run"');

    const noFile = await cli('submit', 'backtest', '--file', path.join(gates, 'missing.json'));
    expect(noFile.code).toBe(2);
    expect(noFile.stderr).toMatch(/^error: --file: cannot read/);

    const usage = await cli('trials');
    expect(usage.code).toBe(2);
    expect(usage.stderr).toContain("missing required argument 'id'");
  });

  it('cancel ends a watch with exit 130', async () => {
    const submitted = json<{ id: string }>(
      await cli('--json', 'submit', 'test-gated', '-p', `gate=${gate('cancel').path}`),
    );
    const watch = start(['watch', submitted.id]);
    await untilPrinted('the watch to see the run at 10 %', watch.stderr, /Running\s+10%/);
    const cancelled = await cli('cancel', submitted.id);
    expect(cancelled).toMatchObject({ code: 0, stdout: `${submitted.id} cancelled\n` });
    const end = await watch.done;
    expect(end.code).toBe(130);
    expect(end.stdout).toMatch(/^Cancelled/);
    expect(end.stdout).toContain('cancelled at 10%');
  });

  it('Ctrl-C stops watching and leaves the run to run to its end', async () => {
    const g = gate('sigint');
    const submitted = json<{ id: string }>(await cli('--json', 'submit', 'test-gated', '-p', `gate=${g.path}`));
    const watch = start(['watch', submitted.id]);
    await untilPrinted('the watch to see the run running', watch.stderr, /Running/);
    watch.child.kill('SIGINT');
    const end = await watch.done;
    expect(end.code).toBe(130);
    expect(end.stderr).toContain(`stopped watching; run ${submitted.id} goes on`);
    expect((await api<{ status: string }>('GET', `/api/runs/${submitted.id}`)).body.status).toBe('Running');
    g.open();
    await eventually(
      'the run to complete after its watch was interrupted',
      async () => (await api<{ status: string }>('GET', `/api/runs/${submitted.id}`)).body.status,
      (s) => s === 'Completed',
    );
  });

  it('follows logs until the run ends, and filters by level', async () => {
    const g = gate('logs');
    const submitted = json<{ id: string }>(
      await cli('--json', 'submit', 'test-gated', '-p', `gate=${g.path}`, '-p', 'fail=true'),
    );
    const follow = start(['logs', submitted.id, '--follow']);
    await untilPrinted('the first log line', follow.stdout, /INFO\s+waiting for the gate/);
    g.open();
    const end = await follow.done;
    expect(end.code).toBe(0);
    expect(end.stdout).toMatch(/WARNING\s+the gate opened/);
    expect(end.stdout).toMatch(/ERROR\s+failing on purpose/);

    const warnings = json<{ items: { level: string }[] }>(
      await cli('--json', 'logs', submitted.id, '--level', 'warning'),
    );
    expect(warnings.items.length).toBeGreaterThan(0);
    expect(warnings.items.every((l) => l.level === 'WARNING' || l.level === 'ERROR')).toBe(true);

    const watchFailed = await cli('watch', submitted.id);
    expect(watchFailed.code).toBe(1);
    expect(watchFailed.stdout).toMatch(/^Failed/);
    expect(watchFailed.stdout).toContain(`runforge logs ${submitted.id} --level WARNING`);
  });

  it('ls, show, trials and events: --json holds the data, the tables fit 80 columns', async () => {
    const submitted = await cli(
      '--json',
      'submit',
      'optimization',
      '--strategy',
      'sma-crossover',
      '--axis',
      'fast=5,40',
      '--axis',
      'slow=20,30',
      '--bars',
      '2000',
      '--watch',
    );
    expect(submitted.code).toBe(0);
    // --json with --watch: the accepted run, then one snapshot per line, the last one terminal.
    const lines = submitted.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { id: string; status: string });
    const id = lines[0]?.id ?? '';
    expect(lines[lines.length - 1]).toMatchObject({ id, status: 'Completed' });

    const listed = json<{ items: { id: string; kind: string }[] }>(
      await cli('--json', 'ls', '--kind', 'optimization', '--since', '1h'),
    );
    expect(listed.items.map((r) => r.id)).toContain(id);
    const human = await cli('ls', '--limit', '50');
    expect(human.stdout).toContain(id);
    expect(human.stdout.split('\n')[0]).toMatch(/^ID\s+KIND\s+STATUS\s+PROG\s+TOOK\s+AGE$/);
    expect(widest(human.stdout)).toBeLessThanOrEqual(80);
    const none = json<{ items: unknown[] }>(
      await cli('--json', 'ls', '--status', 'Cancelled', '--kind', 'optimization'),
    );
    expect(none.items).toEqual([]);

    const shown = json<{ status: string; completedCombinations: number; failedCombinations: number }>(
      await cli('--json', 'show', id),
    );
    expect(shown).toMatchObject({ status: 'Completed', completedCombinations: 2, failedCombinations: 2 });
    const showHuman = await cli('show', id);
    expect(showHuman.stdout).toMatch(/Progress\s+4 \/ 4 trials \(100%\), 2 failed/);
    expect(showHuman.stdout).toMatch(/Best trial\s+#\d+ fast=5 slow=\d+/);
    expect(widest(showHuman.stdout)).toBeLessThanOrEqual(80);

    const failed = json<{ items: { status: string; errorMessage: string; params: { fast: number } }[] }>(
      await cli('--json', 'trials', id, '--failed'),
    );
    expect(failed.items).toHaveLength(2);
    for (const t of failed.items) {
      expect(t.status).toBe('Failed');
      expect(t.params.fast).toBe(40);
      expect(t.errorMessage).toMatch(/must be less than slow/);
    }
    const sorted = json<{ items: { status: string; params: { fast: number } }[] }>(
      await cli('--json', 'trials', id, '--sort', '-score'),
    );
    expect(sorted.items[0]).toMatchObject({ status: 'Completed', params: { fast: 5 } });
    const trialsHuman = await cli('trials', id, '--failed');
    expect(trialsHuman.stdout).toMatch(/^4 of 4 trials done, 2 failed$/m);
    expect(trialsHuman.stdout).toContain('must be less');
    expect(widest(trialsHuman.stdout)).toBeLessThanOrEqual(80);

    const history = json<{ runId: string; events: { type: string }[] }>(await cli('--json', 'events', id));
    expect(history.runId).toBe(id);
    expect(history.events[0]?.type).toBe('RunRequested');
    expect(history.events[history.events.length - 1]?.type).toBe('RunCompleted');
    const eventsHuman = await cli('events', id);
    expect(eventsHuman.stdout).toMatch(/RunRequested/);
    expect(eventsHuman.stdout).toMatch(/TrialFailed/);
    expect(widest(eventsHuman.stdout)).toBeLessThanOrEqual(80);

    const retried = await cli('retry', id);
    expect(retried.code).toBe(0);
    const newId = retried.stdout.trim();
    expect((await api<{ retryOf: string }>('GET', `/api/runs/${newId}`)).body.retryOf).toBe(id);
  });

  it('manages schedules and datasets', async () => {
    const template = JSON.stringify({ kind: 'test-gated', params: { gate: gate('schedule').path } });
    const created = json<{ id: string; paused: boolean }>(
      await cli(
        '--json',
        'schedules',
        'create',
        '--name',
        'cli-test',
        '--cron',
        '0 3 * * *',
        '--timezone',
        'Europe/Amsterdam',
        '--template',
        template,
      ),
    );
    expect(created.paused).toBe(false);
    const badCron = await cli(
      'schedules',
      'create',
      '--name',
      'x',
      '--cron',
      'not a cron',
      '--timezone',
      'UTC',
      '--template',
      template,
    );
    expect(badCron.code).toBe(2);
    expect(badCron.stderr).toMatch(/^ {2}cron: /m);
    expect(json<{ paused: boolean }>(await cli('--json', 'schedules', 'pause', created.id)).paused).toBe(true);
    expect((await cli('schedules', 'resume', created.id)).stdout).toMatch(/State\s+active/);
    const listed = await cli('schedules', 'ls');
    expect(listed.stdout).toContain(created.id);
    expect(widest(listed.stdout)).toBeLessThanOrEqual(80);
    const triggered = await cli('schedules', 'trigger', created.id);
    expect(triggered.code).toBe(0);
    const runId = triggered.stdout.trim();
    expect((await api<{ scheduleId: string }>('GET', `/api/runs/${runId}`)).body.scheduleId).toBe(created.id);
    await cli('cancel', runId);

    const csv = path.join(gates, 'bars.csv');
    writeFileSync(
      csv,
      'timestamp,open,high,low,close,volume\n2026-01-01T00:00:00Z,1,2,0.5,1.5,10\n2026-01-01T01:00:00Z,1.5,2,1,1.8,12\n',
    );
    const uploaded = json<{ id: string; bars: number }>(
      await cli('--json', 'datasets', 'upload', csv, '--symbol', 'CLI'),
    );
    expect(uploaded.bars).toBe(2);
    const datasets = await cli('datasets', 'ls');
    expect(datasets.stdout).toContain(uploaded.id);
    const badCsv = path.join(gates, 'bad.csv');
    writeFileSync(badCsv, 'timestamp,open,high,low,close,volume\n2026-01-01T00:00:00Z,1,0.5,2,1,1\n');
    const refused = await cli('datasets', 'upload', badCsv, '--symbol', 'CLI');
    expect(refused.code).toBe(2);
    expect(refused.stderr).toMatch(/^ {2}line 2/m);
  });
});
