import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { type Page } from 'playwright-core';
import { fillBacktestForm, launchBrowser, signInDashboard, type TestBrowser } from '../support/browser';
import { eventually } from '../support/eventually';
import { expectScreenshot } from '../support/screenshots';
import { http, TestSystem } from '../support/system';

/**
 * The dashboard in a real headless Chromium (Debian's `chromium`, driven by playwright-core; no
 * browser download), served by the gateway of a real system (services as processes). Each test
 * leaves a screenshot under artifacts/dashboard/; the new-run form is compared with its reference
 * (test/e2e/__screenshots__/new-backtest-form.png).
 */
const SHOTS = path.resolve(__dirname, '../../artifacts/dashboard');
const UI_TIMEOUT = 60_000;
jest.setTimeout(120_000);

describe('dashboard (browser end to end)', () => {
  let sys: TestSystem;
  let browser: TestBrowser;
  let page: Page;
  let base: string;

  const shot = async (name: string, p: Page = page): Promise<void> => {
    await p.screenshot({ path: path.join(SHOTS, `${name}.png`), fullPage: true });
  };

  beforeAll(async () => {
    mkdirSync(SHOTS, { recursive: true });
    [sys, browser] = await Promise.all([
      TestSystem.start(undefined, {
        RUNFORGE_PROGRESS_INTERVAL_MS: '100',
        RUNFORGE_PROGRAM_KINDS: path.resolve(__dirname, '../../examples/programs/kinds.yaml'),
      }),
      launchBrowser(UI_TIMEOUT),
    ]);
    base = sys.gateway.url;
    await signInDashboard(browser, sys.apiKey);
    page = browser.page;
  });

  afterAll(async () => {
    await browser?.close();
    await sys?.stop();
  });

  it('is served by the gateway: assets, client routes, and JSON 404s kept for the API', async () => {
    const index = await fetch(`${base}/`);
    expect(index.status).toBe(200);
    expect(index.headers.get('content-type')).toMatch(/text\/html/);
    const html = await index.text();
    expect(html).toContain('/app.js');
    expect(html).not.toMatch(/https?:\/\//); // nothing from a CDN
    expect((await fetch(`${base}/app.js`)).headers.get('content-type')).toMatch(/javascript/);
    const deep = await fetch(`${base}/runs/some-run-id`);
    expect(deep.status).toBe(200);
    expect(await deep.text()).toBe(html);
    const api404 = await http(base, 'GET', '/api/no-such-endpoint');
    expect(api404.status).toBe(404);
    expect(api404.body).toMatchObject({ statusCode: 404 });
    expect((await http(base, 'GET', '/health/live')).body).toMatchObject({ status: 'ok' });
    const stream404 = await http(base, 'GET', '/api/runs/does-not-exist/stream');
    expect(stream404.status).toBe(404);
    expect(stream404.body).toMatchObject({ statusCode: 404, message: expect.stringContaining('does-not-exist') });
  });

  it('asks for an API key, refuses an unknown one, shows who signed in, and signs out', async () => {
    const viewerKey = await sys.createKey('viewer', 'dashboard-viewer');
    const fresh = await launchBrowser(UI_TIMEOUT);
    try {
      const p = fresh.page;
      await p.goto(`${base}/`);
      await p.getByRole('heading', { name: 'Sign in to RunForge' }).waitFor();
      await p.getByLabel('API key').fill('rf_not-a-key-the-gateway-knows-of-aaaaaaaaaaaaaaaa');
      await p.getByRole('button', { name: 'Sign in' }).click();
      await p.getByRole('alert').filter({ hasText: 'does not know this key' }).waitFor();
      await p.getByLabel('API key').fill(viewerKey);
      await p.getByRole('button', { name: 'Sign in' }).click();
      await p.getByTestId('signed-in').filter({ hasText: 'dashboard-viewer (viewer)' }).waitFor();
      await p.getByRole('heading', { name: 'Runs' }).waitFor();
      // Kept for the tab's session only, never in localStorage.
      expect(await p.evaluate('[sessionStorage.length, localStorage.length]')).toEqual([1, 0]);
      await shot('signed-in', p);
      await p.getByRole('button', { name: 'Sign out' }).click();
      await p.getByRole('heading', { name: 'Sign in to RunForge' }).waitFor();
    } finally {
      await fresh.close();
    }
  });

  it('streams a run over SSE: a snapshot at once, progress, then the terminal snapshot and the end', async () => {
    const submitted = await http<{ id: string }>(base, 'POST', '/api/backtests', {
      strategy: 'sma-crossover',
      params: { fast: 10, slow: 30 },
      dataset: { synthetic: { bars: 1_000_000, seed: 3, timeframe: '1m' } },
    });
    expect(submitted.status).toBe(202);
    const res = await sys.fetch(`/api/runs/${submitted.body.id}/stream`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/text\/event-stream/);
    // The server closes the stream once the run is terminal: reading to the end must finish.
    let timer: NodeJS.Timeout | undefined;
    const text = await Promise.race([
      res.text(),
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error('stream did not close within 60 s')), 60_000);
      }),
    ]).finally(() => clearTimeout(timer));
    const snapshots = [...text.matchAll(/event: snapshot\nid: \d+\ndata: (.*)\n/g)].map(
      (m) => JSON.parse(m[1] ?? '{}') as { status: string; processedBars: number },
    );
    expect(snapshots.length).toBeGreaterThanOrEqual(2);
    expect(snapshots[snapshots.length - 1]).toMatchObject({ status: 'Completed', processedBars: 1_000_000 });
    expect(text).toMatch(/event: end\ndata: \{"id":"[^"]+","status":"Completed"\}/);
  });

  it('submits a backtest from the form and shows the progress reaching 100% and the metrics', async () => {
    await fillBacktestForm(page, base, { fast: 10, slow: 30, bars: 2_000_000 });
    await shot('new-backtest-form');
    await expectScreenshot(page.getByRole('form', { name: 'New run' }), 'new-backtest-form');
    await page.getByRole('button', { name: 'Run backtest' }).click();
    await page.waitForURL(/\/runs\/[A-Za-z0-9_-]+$/);
    const bar = page.getByTestId('progress');
    // Seen below 100% first (live progress), then 100%.
    await expect_(
      () => bar.getAttribute('aria-valuenow'),
      (v) => v !== null,
    );
    await page.waitForSelector('[data-testid=progress][aria-valuenow="100"]');
    await page.getByTestId('metrics').waitFor();
    await page.getByTestId('equity-chart').waitFor();
    expect(await page.getByTestId('status-badge').first().textContent()).toBe('Completed');
    expect(await page.getByTestId('progress-label').textContent()).toBe('Processed 2,000,000 / 2,000,000 Bars');
    expect(await page.getByTestId('metrics').textContent()).toContain('Sharpe ratio');
    await page.getByTestId('toast').filter({ hasText: 'completed' }).first().waitFor();
    await shot('run-detail-backtest');

    // The runs list shows it; filtering by kind keeps it.
    await page.goto(`${base}/?kind=backtest`);
    await page.getByTestId('runs-table').waitFor();
    expect(await page.locator('tr[data-run-id]').count()).toBeGreaterThan(0);
    await shot('runs-list');
    await page.setViewportSize({ width: 390, height: 844 });
    await shot('runs-list-phone');
    await page.setViewportSize({ width: 1280, height: 900 });
  });

  it('submits an optimization with a failing region and opens a failed trial’s stack', async () => {
    await newGridWithFailingRegion(page, base);
    // Direction left at its default: the metric's own, which for maxDrawdown is to minimize.
    await page.selectOption('select[name=objective]', 'maxDrawdown');
    expect(await page.locator('select[name=direction] option:checked').textContent()).toBe('default (minimize)');
    // The count is computed in the page from the axes: 3 × 2.
    expect(await page.getByTestId('combination-count').textContent()).toMatch(/^6 combinations/);
    await shot('new-optimization-form');
    await page.getByRole('button', { name: 'Run optimization' }).click();
    await page.waitForURL(/\/runs\/[A-Za-z0-9_-]+$/);
    await page.getByTestId('toast').filter({ hasText: '6 combinations' }).first().waitFor();
    await page.waitForSelector('[data-testid=progress][aria-valuenow="100"]');
    await page.getByTestId('trials-table').waitFor();
    await page.selectOption('select[name=trial-status]', 'Failed');
    await eventually(
      'two failed trials (fast=40 against slow 20 and 30)',
      () => page.locator('[data-testid=trials-table] tr.failed-row').count(),
      (n) => n === 2,
      { timeoutMs: 30_000, intervalMs: 200 },
    );
    await page
      .locator('[data-testid=trials-table] tr.failed-row')
      .first()
      .getByRole('button', { name: 'show error' })
      .click();
    const message = await page.getByTestId('trial-error-message').textContent();
    const stack = await page.getByTestId('trial-error-stack').textContent();
    expect(message).toMatch(/fast/);
    expect(stack).toMatch(/at /);
    // The failures grouped by kind, and the best trial named by the objective (lowest drawdown).
    expect(await page.getByTestId('failure-groups').textContent()).toMatch(
      /^2 trials failed with fast \(40\) must be less than slow/,
    );
    const id = /\/runs\/([A-Za-z0-9_-]+)$/.exec(page.url())?.[1] ?? '';
    const api = await http<{ result: { objective: unknown; best: { metrics: { maxDrawdown: number } } } }>(
      base,
      'GET',
      `/api/optimizations/${id}/status`,
    );
    expect(api.body.result.objective).toEqual({ metric: 'maxDrawdown', direction: 'minimize' });
    expect(await page.getByTestId('best-objective').textContent()).toContain('Max drawdown');
    expect(await page.getByTestId('best-objective').textContent()).toContain('(lowest)');
    await shot('run-detail-optimization-failed-trial');
  });

  it("shows a program kind's run: the kind among the filters, its percent, its result; and cancels one", async () => {
    const done = await http<{ id: string }>(base, 'POST', '/api/runs', {
      kind: 'battery-dp',
      params: { hours: 24, seed: 5, sleepSeconds: 0.02 },
    });
    expect(done.status).toBe(202);
    await page.goto(`${base}/?kind=battery-dp`);
    await page.locator('select[name=kind] option[value="battery-dp"]').waitFor({ state: 'attached' });
    expect(await page.locator('select[name=kind]').inputValue()).toBe('battery-dp');
    await page.locator(`tr[data-run-id="${done.body.id}"]`).waitFor();
    await page.goto(`${base}/runs/${done.body.id}`);
    await page.waitForSelector('[data-testid=progress][aria-valuenow="100"]');
    expect(await page.getByTestId('progress-label').textContent()).toBe('100%');
    expect(await page.getByTestId('program-result').textContent()).toContain('"revenue"');
    // Who asked for it (the test system's admin key), linking to that principal's runs.
    expect(await page.getByTestId('requested-by').textContent()).toBe('test-admin');
    expect(await page.getByTestId('requested-by').locator('a').getAttribute('href')).toMatch(/^\/\?principal=/);
    await shot('run-detail-program-completed');

    const slow = await http<{ id: string }>(base, 'POST', '/api/runs', {
      kind: 'battery-dp',
      params: { hours: 400, sleepSeconds: 0.1 },
    });
    await page.goto(`${base}/runs/${slow.body.id}`);
    await page.locator('[data-testid=status-badge]', { hasText: 'Running' }).first().waitFor();
    await page.getByRole('button', { name: 'Cancel battery-dp' }).click();
    await page.getByRole('button', { name: 'Yes, cancel' }).click();
    await page.locator('[data-testid=status-badge]', { hasText: 'Cancelled' }).first().waitFor();
    const api = await http<{ status: string }>(base, 'GET', `/api/runs/${slow.body.id}`);
    expect(api.body.status).toBe('Cancelled');
  });

  it('cancels a running run from its page', async () => {
    // The engine runs a 20M-bar backtest in well under a second once its bars exist, too short a
    // window to click in; a 5,000-trial optimization stays Running for several seconds.
    const submitted = await http<{ id: string }>(base, 'POST', '/api/optimizations', {
      strategy: 'sma-crossover',
      axes: { fast: { min: 2, max: 51, step: 1 }, slow: { min: 60, max: 159, step: 1 } },
      dataset: { synthetic: { bars: 200_000, seed: 9, timeframe: '1m' } },
    });
    expect(submitted.status).toBe(202);
    await page.goto(`${base}/runs/${submitted.body.id}`);
    await page.locator('[data-testid=status-badge]', { hasText: 'Running' }).first().waitFor();
    // Live: the ETA and the best trial so far, from the stream.
    await page.getByTestId('eta').waitFor();
    expect(await page.getByTestId('eta').textContent()).toMatch(/^about .+ left at [\d,.]+ trials\/s$/);
    await page.getByTestId('best-trial').waitFor();
    await shot('run-detail-optimization-running');
    await page.getByRole('button', { name: 'Cancel optimization' }).click();
    await shot('cancel-confirmation');
    await page.getByRole('button', { name: 'Yes, cancel' }).click();
    await page.locator('[data-testid=status-badge]', { hasText: 'Cancelled' }).first().waitFor();
    await page.getByTestId('toast').filter({ hasText: 'cancelled' }).first().waitFor();
    const bar = await page.getByTestId('progress').getAttribute('aria-valuenow');
    expect(Number(bar)).toBeLessThan(100);
    // A cancelled optimization keeps the best trial it reached.
    await page.getByRole('heading', { name: 'Best trial', exact: true }).waitFor();
    expect(await page.getByTestId('eta').count()).toBe(0);
    const api = await http<{ status: string }>(base, 'GET', `/api/optimizations/${submitted.body.id}/status`);
    expect(api.body.status).toBe('Cancelled');
    await shot('run-detail-cancelled');
  });

  it('runs over an uploaded dataset picked in the form, after saying how to upload one', async () => {
    await page.goto(`${base}/new`);
    await page.getByRole('radio', { name: 'Backtest' }).check();
    await page.getByRole('radio', { name: 'Uploaded dataset' }).check();
    // None uploaded yet in this system: the picker says how, and the form cannot be submitted.
    await page.getByTestId('datasets-empty').waitFor();
    expect(await page.getByTestId('upload-command').textContent()).toContain(
      `curl -X POST '${base}/api/datasets?symbol=`,
    );
    expect(await page.getByRole('button', { name: 'Run backtest' }).isDisabled()).toBe(true);
    await shot('new-run-no-datasets');

    const text = hourlyCsv(2_000);
    const up = await sys.fetch(`/api/datasets?symbol=SINE&name=sine%20wave`, {
      method: 'POST',
      headers: { 'content-type': 'text/csv' },
      body: text,
    });
    expect(up.status).toBe(201);
    const { id: datasetId } = (await up.json()) as { id: string };
    await page.getByRole('button', { name: 'Reload the list' }).click();
    const row = page.locator(`[data-testid=datasets] tr[data-dataset-id="${datasetId}"]`);
    await row.waitFor();
    expect((await row.textContent())?.replace(/\s+/g, ' ')).toMatch(/sine wave\s*SINE\s*1h\s*2,000/);
    await page.getByRole('radio', { name: 'sine wave (SINE, 1h, 2,000 bars)' }).check();
    await page.fill('input[name=param-fast]', '10');
    await page.fill('input[name=param-slow]', '30');

    // A bound the API refuses is shown next to its input (and in the list under the form).
    await page.fill('input[name=datasetFrom]', '2024-01-10');
    await page.getByRole('button', { name: 'Run backtest' }).click();
    await page.locator('[data-field-error="dataset.from"]').waitFor();
    expect(await page.getByRole('alert').textContent()).toContain('dataset.from');
    expect(page.url()).toMatch(/\/new$/);
    await shot('new-run-dataset-window-error');

    await page.fill('input[name=datasetFrom]', '2024-01-10T00:00:00Z');
    expect(await page.locator('[data-field-error="dataset.from"]').count()).toBe(0); // edited: reason gone
    await page.fill('input[name=datasetTo]', '2024-02-20T00:00:00Z');
    await shot('new-run-dataset-picked');
    await page.setViewportSize({ width: 390, height: 844 });
    await shot('new-run-dataset-picked-phone');
    await page.setViewportSize({ width: 1280, height: 900 });
    await page.getByRole('button', { name: 'Run backtest' }).click();
    await page.waitForURL(/\/runs\/[A-Za-z0-9_-]+$/);
    await page.waitForSelector('[data-testid=progress][aria-valuenow="100"]');
    await page.locator('[data-testid=status-badge]', { hasText: 'Completed' }).first().waitFor();
    await page.getByTestId('metrics').waitFor();
    // 41 days of hourly bars, both ends included; the request went as the API takes it.
    expect(await page.getByTestId('progress-label').textContent()).toBe('Processed 985 / 985 Bars');
    const id = /\/runs\/([A-Za-z0-9_-]+)$/.exec(page.url())?.[1] ?? '';
    const run = await http<{ request: { dataset: unknown } }>(base, 'GET', `/api/runs/${id}`);
    expect(run.body.request.dataset).toEqual({
      id: datasetId,
      from: '2024-01-10T00:00:00Z',
      to: '2024-02-20T00:00:00Z',
    });
    await shot('run-detail-uploaded-dataset');
  });

  it('sends maxFailedTrials from the form: the API’s refusal is shown at the field, a share stops the run', async () => {
    await newGridWithFailingRegion(page, base);
    expect(await page.getByTestId('max-failed-hint').textContent()).toMatch(/^A count .* or a share of the grid/);
    await page.fill('input[name=maxFailedTrials]', '1.5');
    await page.getByRole('button', { name: 'Run optimization' }).click();
    const fieldError = page.locator('[data-field-error=maxFailedTrials]');
    await fieldError.waitFor();
    expect(await fieldError.textContent()).toBe(
      'must be a whole number of trials (1 or more) or a share of the grid between 0 and 1',
    );
    expect(page.url()).toMatch(/\/new\?kind=optimization$/);
    await shot('new-optimization-max-failed-error');

    // 20% of 6 combinations: the run stops once 2 trials failed (fast 40 against slow 20 and 30).
    await page.fill('input[name=maxFailedTrials]', '0.2');
    expect(await page.getByTestId('max-failed-hint').textContent()).toBe(
      'stops the run as Failed once 20% of its combinations have failed (at least 1 trial)',
    );
    await page.getByRole('button', { name: 'Run optimization' }).click();
    await page.waitForURL(/\/runs\/[A-Za-z0-9_-]+$/);
    await page.locator('[data-testid=status-badge]', { hasText: 'Failed' }).first().waitFor();
    expect(await page.getByTestId('run-error').textContent()).toMatch(
      /^stopped early: 2 trials had failed; the limit is 2 \(maxFailedTrials 0\.2 of 6 combinations\)$/,
    );
    const id = /\/runs\/([A-Za-z0-9_-]+)$/.exec(page.url())?.[1] ?? '';
    const run = await http<{ request: { maxFailedTrials?: number }; failureReason: string }>(
      base,
      'GET',
      `/api/runs/${id}`,
    );
    expect(run.body).toMatchObject({ request: { maxFailedTrials: 0.2 }, failureReason: 'failed_trials' });
  });

  it('creates a schedule and shows its next fire times', async () => {
    await page.goto(`${base}/schedules`);
    await page.getByRole('button', { name: 'New schedule' }).click();
    await page.fill('input[name=name]', 'nightly-sma');
    await page.fill('input[name=cron]', 'not a cron');
    await page.getByTestId('cron-error').waitFor();
    await page.fill('input[name=cron]', '0 10 * * *');
    await page.fill('input[name=timezone]', 'Europe/Amsterdam');
    await page.getByTestId('cron-preview').waitFor();
    await shot('schedule-form');
    await page.getByRole('button', { name: 'Create schedule' }).click();
    const card = page.getByTestId('schedule').filter({ hasText: 'nightly-sma' });
    await card.waitFor();
    const times = card.getByTestId('next-fire-times').locator('li');
    expect(await times.count()).toBeGreaterThan(0);
    expect(await card.textContent()).toContain('once per day');
    // Fire times read in the schedule's zone, saying which (Amsterdam is GMT+1 in November, +2 in summer).
    expect(await times.first().textContent()).toMatch(/10:00:00 (AM )?(GMT\+[12]|CES?T)$/);
    await shot('schedules');

    // A daily limit other than one is shown, and an edit that does not touch it keeps it.
    const id = await card.getAttribute('data-schedule-id');
    await card.getByRole('button', { name: 'Edit' }).click();
    await page.fill('input[name=maxPerDay]', '3');
    await page.getByRole('button', { name: 'Save' }).click();
    await card.filter({ hasText: 'at most 3 runs per day' }).waitFor();
    await card.getByRole('button', { name: 'Edit' }).click();
    expect(await page.inputValue('input[name=maxPerDay]')).toBe('3');
    await page.fill('input[name=cron]', '0 11 * * *');
    await page.getByRole('button', { name: 'Save' }).click();
    await card.filter({ hasText: '0 11 * * *' }).waitFor();
    const saved = await http<{ cron: string; maxRunsPerWindow: unknown }>(base, 'GET', `/api/schedules/${id}`);
    expect(saved.body).toMatchObject({ cron: '0 11 * * *', maxRunsPerWindow: { count: 3, window: '1d' } });
  });

  it('says an optimization is stalled — instead of an ever-growing ETA — while its only worker is frozen', async () => {
    const submitted = await http<{ id: string }>(base, 'POST', '/api/optimizations', {
      strategy: 'sma-crossover',
      axes: { fast: { min: 2, max: 51, step: 1 }, slow: { min: 60, max: 159, step: 1 } },
      dataset: { synthetic: { bars: 200_000, seed: 9, timeframe: '1m' } },
    });
    expect(submitted.status).toBe(202);
    const id = submitted.body.id;
    const statusUrl = `/api/optimizations/${id}/status`;
    type Pace = {
      status: string;
      completedCombinations: number;
      failedCombinations: number;
      etaSeconds?: number;
      lastProgressAt?: string;
      secondsSinceProgress?: number;
      stalled?: boolean;
      stallAfterSeconds?: number;
    };
    const status = async (): Promise<Pace> => (await http<Pace>(base, 'GET', statusUrl)).body;
    const progressing = await eventually(
      'the first trial outcomes',
      status,
      (s) => s.status === 'Running' && s.completedCombinations + s.failedCombinations > 0,
      { timeoutMs: 60_000, intervalMs: 50 },
    );
    expect(progressing).toMatchObject({ stalled: false, lastProgressAt: expect.any(String) });
    const worker = sys.processes.find((p) => p.name === 'engine-worker');
    if (!worker?.child.pid) throw new Error('no engine-worker process');
    process.kill(worker.child.pid, 'SIGSTOP');
    let lastBeforeWake: string | undefined;
    try {
      await page.goto(`${base}/runs/${id}`);
      const stalled = await eventually('the status to call the run stalled', status, (s) => s.stalled === true, {
        timeoutMs: 90_000,
        intervalMs: 250,
      });
      expect(stalled.status).toBe('Running');
      expect(stalled.etaSeconds).toBeUndefined();
      expect(stalled.secondsSinceProgress).toBeGreaterThanOrEqual(stalled.stallAfterSeconds ?? Infinity);
      expect(stalled.stallAfterSeconds).toBeGreaterThanOrEqual(15);
      expect(Date.parse(stalled.lastProgressAt ?? '')).toBeGreaterThan(0);
      lastBeforeWake = stalled.lastProgressAt;
      // The details (and the live stream the page reads) carry the same signal.
      const details = await http<Pace>(base, 'GET', `/api/runs/${id}`);
      expect(details.body).toMatchObject({ stalled: true, lastProgressAt: stalled.lastProgressAt });
      const notice = page.getByTestId('stall');
      await notice.waitFor();
      expect(await notice.textContent()).toMatch(/^No trial has finished for \d+ (s|min \d+ s)\./);
      expect(await page.getByTestId('eta').count()).toBe(0);
      await shot('run-detail-optimization-stalled');
    } finally {
      process.kill(worker.child.pid, 'SIGCONT');
    }
    // Trials finish again: no longer stalled, the notice goes.
    await eventually(
      'trials to finish again after the worker woke up',
      status,
      (s) =>
        (s.stalled === false && s.lastProgressAt !== lastBeforeWake) ||
        ['Completed', 'Failed', 'Cancelled'].includes(s.status),
      { timeoutMs: 60_000, intervalMs: 250 },
    );
    await eventually(
      'the stall notice to go',
      () => page.getByTestId('stall').count(),
      (n) => n === 0,
      {
        timeoutMs: 30_000,
        intervalMs: 200,
      },
    );
    await http(base, 'POST', `/api/optimizations/${id}/cancel`);
    await eventually('the run to end', status, (s) => ['Completed', 'Failed', 'Cancelled'].includes(s.status), {
      timeoutMs: 60_000,
      intervalMs: 250,
    });
  });
});

/** A small deterministic hourly OHLCV CSV from 2024-01-01: a slow sine wave. */
/** The new-optimization form filled with fast {5, 10, 40} × slow {20, 30} over 5,000 bars: fast 40 fails. */
async function newGridWithFailingRegion(page: Page, base: string): Promise<void> {
  await page.goto(`${base}/new?kind=optimization`);
  await page.selectOption('select[name=strategy]', 'sma-crossover');
  for (const [axis, values] of [
    ['fast', '5, 10, 40'],
    ['slow', '20, 30'],
  ] as const) {
    await page.selectOption(`select[name=axis-${axis}-mode]`, 'values');
    await page.fill(`input[name=axis-${axis}-values]`, values);
  }
  await page.fill('input[name=bars]', '5000');
}

function hourlyCsv(rows: number): string {
  const lines = ['timestamp,open,high,low,close,volume'];
  let prev = 100;
  for (let i = 0; i < rows; i++) {
    const t = new Date(Date.UTC(2024, 0, 1) + i * 3600_000).toISOString();
    const close = 100 + 10 * Math.sin(i / 15) + (i % 7) * 0.1;
    lines.push([t, prev, Math.max(prev, close) + 0.5, Math.min(prev, close) - 0.5, close, 1000 + i].join(','));
    prev = close;
  }
  return `${lines.join('\n')}\n`;
}

/** Waits until `probe` gives a value `ok` accepts (bounded, like `eventually`). */
async function expect_<T>(probe: () => Promise<T>, ok: (v: T) => boolean): Promise<T> {
  return eventually('a page condition', probe, ok, { timeoutMs: UI_TIMEOUT, intervalMs: 50 });
}
