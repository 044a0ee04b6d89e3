import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Page } from 'playwright-core';
import { RunForgeClient } from '@runforge/client';
import { loneToastStyle, launchBrowser, signInDashboard, type TestBrowser } from '../support/browser';
import { eventually } from '../support/eventually';
import { expectScreenshot } from '../support/screenshots';
import { ROOT, TestSystem } from '../support/system';

const UI_TIMEOUT = 60_000;
const SHOTS = path.join(ROOT, 'artifacts', 'dashboard');

/**
 * The dashboard's polish of issue #23 in headless Chromium against the real system: run ids that
 * differ between neighbours and copy whole, metric labels from the shared table, failure toasts with
 * the error and a way to the logs, progress % and duration for every kind, the heatmap of a two-axis
 * optimization and the best trial's equity curve. Runs of `test-gated` (test/fixtures/gated-kinds.yaml)
 * wait for their gate file, so the test decides when they end. The components are compared with
 * their reference screenshots (test/e2e/__screenshots__/polish-*.png; docs/dashboard.md, "Screenshots").
 */
describe('dashboard polish', () => {
  let sys: TestSystem;
  let browser: TestBrowser;
  let page: Page;
  let base: string;
  let client: RunForgeClient;
  let gates: string;

  const shot = async (name: string): Promise<void> => {
    await page.screenshot({ path: path.join(SHOTS, `${name}.png`), fullPage: true });
  };

  const gate = (name: string): { path: string; open: () => void } => {
    const file = path.join(gates, name);
    return { path: file, open: () => writeFileSync(file, '') };
  };

  beforeAll(async () => {
    mkdirSync(SHOTS, { recursive: true });
    [sys, browser] = await Promise.all([
      TestSystem.start(undefined, {
        RUNFORGE_PROGRESS_INTERVAL_MS: '100',
        RUNFORGE_PROGRAM_KINDS: path.join(ROOT, 'test/fixtures/gated-kinds.yaml'),
      }),
      launchBrowser(UI_TIMEOUT),
    ]);
    base = sys.gateway.url;
    page = browser.page;
    // The one client of this file, and the dashboard signed in, both with the system's admin key.
    client = new RunForgeClient({ url: base, apiKey: sys.apiKey });
    await signInDashboard(browser, sys.apiKey);
    gates = mkdtempSync(path.join(tmpdir(), 'rf-polish-'));
    await browser.context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: base });
  });

  afterAll(async () => {
    await browser?.close();
    await sys?.stop();
    if (gates) rmSync(gates, { recursive: true, force: true });
  });

  it('lists runs by the tail of their ids, copies a whole id, shows progress % and duration for any kind', async () => {
    const open = gate('list-open');
    open.open();
    const held = gate('list-held');
    // Its own principal, so the list (filtered by it) holds exactly these three runs whatever ran before.
    const ownKey = await sys.createKey('operator', 'polish-list');
    const own = new RunForgeClient({ url: base, apiKey: ownKey });
    const me = (await (await fetch(`${base}/api/me`, { headers: { authorization: `Bearer ${ownKey}` } })).json()) as {
      principal: { id: string };
    };
    const done = [
      await own.submit('test-gated', { params: { gate: open.path } }),
      await own.submit('test-gated', { params: { gate: open.path } }),
    ];
    const running = await own.submit('test-gated', { params: { gate: held.path } });
    // Opened whatever happens: a run left held would keep the worker from the next tests' runs.
    try {
      for (const r of done) expect((await client.result(r.id)).status).toBe('Completed');
      await eventually(
        'the held run to report 10 %',
        async () => (await client.status(running.id)).progress,
        (p) => p === 10,
      );

      await page.goto(`${base}/?kind=test-gated&principal=${encodeURIComponent(me.principal.id)}`);
      const row = (id: string) => page.locator(`tr[data-run-id="${id}"]`);
      await row(running.id).getByTestId('run-progress').filter({ hasText: '10%' }).waitFor();
      const shown = await Promise.all(done.map((r) => row(r.id).getByTestId('run-id').textContent()));
      // Submitted in the same second, the ids share their head; the list shows their tails.
      expect(shown).toEqual(done.map((r) => `…${r.id.slice(-8)}`));
      expect(shown[0]).not.toBe(shown[1]);
      for (const r of done) {
        expect(await row(r.id).getByTestId('run-progress').textContent()).toBe('100%');
        expect(await row(r.id).getByTestId('run-duration').textContent()).toMatch(/^\d[\d.,]* (ms|s)$/);
      }
      const table = page.getByTestId('runs-table');
      expect(await table.locator('tbody tr').count()).toBe(3);
      await expectScreenshot(table, 'polish-runs-list', {
        mask: [table.getByTestId('run-id'), table.getByTestId('run-requested'), table.getByTestId('run-duration')],
        // Masking hides their text, but the table's columns are still sized by it (a time, a
        // duration, an id's tail): drawn at no width, every column keeps the same place each run.
        style:
          '[data-testid=run-id], [data-testid=run-requested], [data-testid=run-duration] { font-size: 0 !important; }',
      });
      await row(done[0]?.id ?? '')
        .getByTestId('copy-id')
        .click();
      await row(done[0]?.id ?? '')
        .getByTestId('copy-id')
        .filter({ hasText: 'copied' })
        .waitFor();
      expect(await page.evaluate<string>('navigator.clipboard.readText()')).toBe(done[0]?.id);
      await shot('polish-runs-list');
    } finally {
      held.open();
    }
  });

  it('toasts a failure with its error and a View logs action that opens the run at its logs', async () => {
    const held = gate('fail');
    const run = await client.submit('test-gated', { params: { gate: held.path, fail: true } });
    await page.goto(`${base}/?kind=test-gated`);
    await page.locator(`tr[data-run-id="${run.id}"]`).waitFor();
    held.open();
    const end = await client.result(run.id);
    expect(end.status).toBe('Failed');
    const toast = page.getByTestId('toast').filter({ hasText: new RegExp(`…${run.id.slice(-8)}.* failed: `) });
    await toast.waitFor();
    expect(await toast.textContent()).toContain(end.errorMessage?.slice(0, 40));
    await shot('polish-failure-toast');
    await expectScreenshot(toast, 'polish-failure-toast', {
      mask: [toast.getByTestId('toast-run-id')],
      style: await loneToastStyle(page, `…${run.id.slice(-8)}`),
    });
    await toast.getByRole('link', { name: 'View logs' }).click();
    await page.waitForURL(`${base}/runs/${run.id}?view=logs`);
    const logs = page.locator('#logs');
    await logs.getByText('failing on purpose').first().waitFor();
    await eventually(
      'the logs section to be scrolled into view',
      // Relative to the viewport (900 px high).
      async () => (await logs.boundingBox())?.y ?? -1,
      (top) => top >= 0 && top < 900,
    );
  });

  it('labels metrics from the shared table', async () => {
    const { id } = await client.submit('backtest', {
      strategy: 'sma-crossover',
      params: { fast: 10, slow: 30 },
      dataset: { synthetic: { bars: 20_000, seed: 4, timeframe: '1h' } },
    });
    await client.result(id);
    await page.goto(`${base}/runs/${id}`);
    const metrics = page.getByTestId('metrics');
    await metrics.waitFor();
    const text = (await metrics.textContent()) ?? '';
    expect(text).toMatch(/Longest drawdown[\d,]+ bars/);
    expect(text).toMatch(/Total return-?[\d,.]+ %/);
    expect(text).not.toContain('maxDrawdownDurationBars');
    await expectScreenshot(metrics, 'polish-metrics');
    // The whole id is on the page, with its copy button.
    expect(await page.getByTestId('run-id').textContent()).toBe(id);
  });

  it('maps a two-axis optimization as a heatmap (failed cells marked) and draws the best trial’s equity curve', async () => {
    const { id } = await client.submit('optimization', {
      strategy: 'sma-crossover',
      axes: { fast: [5, 10, 40], slow: [20, 30] },
      objective: { metric: 'totalReturn', direction: 'maximize' },
      dataset: { synthetic: { bars: 3_000, seed: 11, timeframe: '1h' } },
    });
    const end = await client.result(id);
    expect(end).toMatchObject({ status: 'Completed', failedCombinations: 2 });
    await page.goto(`${base}/runs/${id}`);
    const heatmap = page.getByTestId('heatmap');
    await heatmap.waitFor();
    const cells = heatmap.getByTestId('heatmap-cell');
    await eventually(
      'six cells',
      () => cells.count(),
      (n) => n === 6,
    );
    const failed = heatmap.locator('[data-testid=heatmap-cell][data-status=Failed]');
    expect(await failed.count()).toBe(2);
    expect(await failed.first().textContent()).toBe('×');
    expect(await failed.first().getAttribute('title')).toMatch(/^fast=40, slow=\d+: failed: .*must be less than slow/);
    const completed = heatmap.locator('[data-testid=heatmap-cell][data-status=Completed]');
    expect(await completed.count()).toBe(4);
    expect(await completed.first().textContent()).toMatch(/^-?[\d,.]+ %$/);
    expect(await heatmap.locator('thead th').allTextContents()).toEqual(['slow \\ fast', '5', '10', '40']);
    await expectScreenshot(heatmap, 'polish-heatmap');

    const best = end.result?.best as { params: Record<string, number> } | undefined;
    await page.getByRole('button', { name: 'Draw the best trial’s equity curve' }).click();
    const panel = page.getByTestId('best-equity');
    await panel.getByTestId('equity-chart').waitFor();
    const replayId = (await panel.getByTestId('run-id').getAttribute('title')) ?? '';
    const replay = await client.status(replayId);
    expect(replay).toMatchObject({ kind: 'backtest', status: 'Completed', params: best?.params });
    await expectScreenshot(panel, 'polish-best-equity', { mask: [panel.getByTestId('run-id')] });
    await shot('polish-optimization-heatmap');
  });
});
