import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { type Locator, type Page } from 'playwright-core';
import { loneToastStyle, launchBrowser, signInDashboard, type TestBrowser } from '../support/browser';
import { eventually } from '../support/eventually';
import { http, TestSystem } from '../support/system';
import { TEST_ASSET as ASSET } from '../support/energy';
import { expectScreenshot } from '../support/screenshots';

/**
 * The dashboard's Energy page in a real headless Chromium (as dashboard.e2e.spec.ts), against a
 * real system: a DMO run from its card to the completion toast, its logs and its plan; the
 * once-a-day DMO, derived from the runs and from the server's 409; a failing model's toast.
 * Screenshots under artifacts/dashboard/energy-*.png; the model cards and a failure's toast are
 * compared with their references (test/e2e/__screenshots__/energy-*.png). The plan's chart is not:
 * its synthetic prices start on the day the test runs, so its intervals (92, 96 or 100) and time
 * labels change with the date.
 */
const SHOTS = path.resolve(__dirname, '../../artifacts/dashboard');
const UI_TIMEOUT = 60_000;
jest.setTimeout(180_000);

interface RunDetails {
  id: string;
  kind: string;
  status: string;
  errorMessage: string | null;
  result: { objective_value: number | null; results_count: number } | null;
}

const euros = (n: number): string =>
  `${n.toLocaleString('en-US', { minimumFractionDigits: 2, maximumFractionDigits: 2 })} €`;

describe('dashboard: the Energy page (browser end to end)', () => {
  let sys: TestSystem;
  let browser: TestBrowser;
  let page: Page;
  let base: string;

  const shot = async (name: string): Promise<void> => {
    await page.screenshot({ path: path.join(SHOTS, `energy-${name}.png`), fullPage: true });
  };

  const createSource = async (name: string, asset: Record<string, number>): Promise<string> => {
    const r = await http<{ id: string }>(base, 'POST', '/api/energy/sources', {
      name,
      asset,
      synthetic: { seed: 11, days: 3 },
    });
    expect(r.status).toBe(201);
    return r.body.id;
  };

  const runButton = (kind: string): Locator =>
    page.getByTestId(`model-card-${kind}`).getByRole('button', { name: `Run ${kind.toUpperCase()}` });

  /** The run a toast is about, from its "View logs" link (`/energy?source=…&logs=<run id>`). */
  const runOfToast = async (toast: Locator): Promise<string> => {
    const href = await toast.getByRole('link', { name: 'View logs' }).getAttribute('href');
    const id = new URL(href ?? '', base).searchParams.get('logs');
    expect(id).toBeTruthy();
    return id as string;
  };

  beforeAll(async () => {
    mkdirSync(SHOTS, { recursive: true });
    [sys, browser] = await Promise.all([
      TestSystem.start(['gateway', 'projection', 'scheduler', 'engine-worker']),
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

  it('runs a DMO from its card: a progress bar, a toast with the objective, its logs, its plan as a chart', async () => {
    const source = await createSource('e2e battery', ASSET);
    await page.goto(`${base}/energy?source=${source}`);
    expect(await page.locator('select[name=source]').inputValue()).toBe(source);
    await page.getByRole('link', { name: 'Energy' }).and(page.locator('[aria-current=page]')).waitFor();
    await page.getByText('No job has run on this data source yet.').waitFor();
    await page.getByTestId('model-card-dmo').locator('.hint').filter({ hasText: /\S/ }).waitFor();
    await expectScreenshot(page.locator('.model-cards'), 'energy-model-cards');

    // A DMO can end within a second: every progress bar the page shows is recorded, however briefly.
    // (Browser code as text: the tests are compiled without the DOM's types.)
    await page.evaluate(`(() => {
      const seen = (window.progressSeen = []);
      const record = () =>
        document
          .querySelectorAll('[data-testid=running-job] [role=progressbar]')
          .forEach((bar) => seen.push(bar.getAttribute('aria-valuenow')));
      new MutationObserver(record).observe(document.body, {
        subtree: true,
        childList: true,
        attributes: true,
        attributeFilter: ['aria-valuenow'],
      });
    })()`);
    await runButton('dmo').click();
    // Polled with evaluate: waitForFunction's string predicate is an eval, which the dashboard's
    // Content-Security-Policy forbids.
    await eventually(
      'a progress bar to be seen',
      () => page.evaluate<number>('window.progressSeen.length'),
      (n) => n > 0,
      { timeoutMs: UI_TIMEOUT, intervalMs: 50 },
    );
    await shot('dmo-running');
    const seen = await page.evaluate<string[]>('window.progressSeen');
    expect(seen.some((v) => Number(v) < 100)).toBe(true);

    const toast = page.getByTestId('toast').filter({ hasText: 'DMO completed — objective' });
    await toast.waitFor();
    const runId = await runOfToast(toast);
    const run = (await http<RunDetails>(base, 'GET', `/api/runs/${runId}`)).body;
    expect(run).toMatchObject({ kind: 'dmo', status: 'Completed' });
    const objective = run.result?.objective_value;
    expect(typeof objective).toBe('number');
    expect(await toast.textContent()).toContain(`DMO completed — objective ${euros(objective as number)}`);
    expect(await toast.getAttribute('class')).toContain('toast-ok');
    await shot('dmo-completed-toast');

    // "View logs" opens the job's logs: INFO lines, coloured by level, filtered by level.
    await toast.getByRole('link', { name: 'View logs' }).click();
    const dialog = page.getByTestId('logs-dialog');
    await dialog.waitFor();
    expect(new URL(page.url()).searchParams.get('logs')).toBe(runId);
    await dialog.locator('li.log-info').filter({ hasText: 'DMO completed: objective' }).waitFor();
    expect(await dialog.locator('li.log-info').count()).toBeGreaterThanOrEqual(4);
    const infoColour = await page.evaluate(
      `getComputedStyle(document.querySelector('[data-testid=logs-dialog] li.log-info .level')).color`,
    );
    expect(infoColour).toBe('rgb(143, 180, 255)');
    await shot('dmo-logs-dialog');
    await dialog.locator('select[name=log-level]').selectOption('ERROR');
    await dialog.getByText('No log lines at ERROR or above.').waitFor();
    expect(await dialog.locator('li.log').count()).toBe(0);
    await dialog.getByRole('button', { name: 'Close logs' }).click();
    await dialog.waitFor({ state: 'detached' });
    expect(new URL(page.url()).searchParams.get('logs')).toBeNull();

    // The recent jobs and the plan of the completed job.
    const row = page.locator(`[data-testid=recent-jobs] tr[data-run-id="${runId}"]`);
    await row
      .getByTestId('objective')
      .filter({ hasText: euros(objective as number) })
      .waitFor();
    expect(await row.getByTestId('status-badge').textContent()).toBe('Completed');
    const chart = page.getByTestId('schedule-chart');
    await chart.waitFor();
    expect(await chart.getAttribute('data-run-id')).toBe(runId);
    const intervals = run.result?.results_count ?? 0;
    expect(intervals).toBeGreaterThanOrEqual(92);
    const price = (await chart.getByTestId('price-line').getAttribute('d')) ?? '';
    expect(price.match(/H/g)).toHaveLength(intervals);
    const soc = (await chart.getByTestId('soc-line').getAttribute('d')) ?? '';
    expect(soc.match(/[ML]/g)).toHaveLength(intervals);
    // A battery on a day of varying prices both charges and discharges.
    expect(await chart.getByTestId('charge-bars').getAttribute('d')).toMatch(/Z/);
    expect(await chart.getByTestId('discharge-bars').getAttribute('d')).toMatch(/Z/);
    await chart.scrollIntoViewIfNeeded();
    await shot('dmo-schedule-chart');
  });

  it('disables DMO once it ran this market day, naming when it may run again; the server answers 409 alike', async () => {
    const source = await createSource('once a day', ASSET);
    const other = await createSource('another battery', ASSET);
    const first = await http<{ id: string }>(base, 'POST', '/api/runs', { kind: 'dmo', data_source_id: source });
    expect(first.status).toBe(202);
    expect((await http(base, 'POST', '/api/runs', { kind: 'so', data_source_id: other })).status).toBe(202);
    // The runs of one data source, as the page lists them.
    const listed = await eventually(
      `the DMO ${first.body.id} listed under its data source`,
      async () => (await http<{ items: { id: string }[] }>(base, 'GET', `/api/runs?dataSourceId=${source}`)).body.items,
      (items) => items.length > 0,
    );
    expect(listed.map((r) => r.id)).toEqual([first.body.id]);

    const again = await http<{ message: string; nextAllowedAt: string }>(base, 'POST', '/api/runs', {
      kind: 'dmo',
      data_source_id: source,
    });
    expect(again.status).toBe(409);
    const nextAllowed = await page.evaluate(
      (iso) => new Date(iso).toLocaleString(undefined, { timeZone: 'Europe/Amsterdam', timeZoneName: 'short' }),
      again.body.nextAllowedAt,
    );

    await page.goto(`${base}/energy?source=${source}`);
    const alert = page.getByTestId('model-card-dmo').getByTestId('dmo-ran-today');
    await alert.waitFor();
    expect(await runButton('dmo').isDisabled()).toBe(true);
    expect(await runButton('so').isDisabled()).toBe(false);
    expect(await alert.textContent()).toContain('DMO already ran today for this data source');
    expect(await alert.getByTestId('dmo-next-allowed').textContent()).toBe(nextAllowed);
    expect(await alert.getByRole('link').getAttribute('href')).toBe(`/runs/${first.body.id}`);
    await shot('dmo-once-a-day');

    // The server's refusal alone, as when another client ran DMO since the page read the runs: its
    // run lists are answered empty, so the button is enabled and the click meets the 409.
    const lists = /\/api\/runs\?.*dataSourceId=/;
    await page.route(lists, (route) => route.fulfill({ json: { items: [], nextCursor: null } }));
    try {
      await page.reload();
      await eventually(
        'the DMO button enabled with no run listed',
        () => runButton('dmo').isEnabled(),
        (enabled) => enabled,
      );
      expect(await alert.count()).toBe(0);
      await runButton('dmo').click();
      await alert.waitFor();
      expect(await alert.textContent()).toContain(again.body.message);
      expect(await alert.getByTestId('dmo-next-allowed').textContent()).toBe(nextAllowed);
      expect(await runButton('dmo').isDisabled()).toBe(true);
      await shot('dmo-refused-409');
    } finally {
      await page.unroute(lists);
    }
  });

  it("announces a failing model's end with its error text, and its logs hold the ERROR", async () => {
    // 1 MW for the 4 hours SO plans cannot lift 1 MWh to 9 MWh: infeasible.
    const source = await createSource('unreachable', { ...ASSET, powerMW: 1, initialSocMWh: 1, finalSocMinMWh: 9 });
    await page.goto(`${base}/energy?source=${source}`);
    await runButton('so').click();
    const toast = page.getByTestId('toast').filter({ hasText: 'SO failed' });
    await toast.waitFor();
    expect(await toast.textContent()).toMatch(
      /SO failed — solver status infeasible: final state of charge 9 MWh is unreachable/,
    );
    expect(await toast.getAttribute('class')).toContain('toast-bad');
    const runId = await runOfToast(toast);
    const run = (await http<RunDetails>(base, 'GET', `/api/runs/${runId}`)).body;
    expect(run).toMatchObject({ kind: 'so', status: 'Failed' });
    expect(await toast.textContent()).toContain(run.errorMessage ?? 'an error message');
    const row = page.locator(`[data-testid=recent-jobs] tr[data-run-id="${runId}"]`);
    await row.getByTestId('status-badge').filter({ hasText: 'Failed' }).waitFor();
    await shot('so-failed-toast');
    await expectScreenshot(toast, 'energy-so-failed-toast', { style: await loneToastStyle(page, 'SO failed') });

    await toast.getByRole('link', { name: 'View logs' }).click();
    const dialog = page.getByTestId('logs-dialog');
    await dialog.locator('li.log-error').filter({ hasText: 'infeasible' }).waitFor();
    expect(await dialog.locator('.error-message').textContent()).toBe(run.errorMessage);
    await shot('so-failed-logs');
    await page.keyboard.press('Escape');
    await dialog.waitFor({ state: 'detached' });
  });

  it('creates a synthetic source from the form: a refused field shows its reason in place, then the new source is picked', async () => {
    // Without ?source= the page picks the first data source.
    await page.goto(`${base}/energy`);
    await page.waitForURL(/\/energy\?source=[^&]+$/);
    const before = new URL(page.url()).searchParams.get('source');
    await page.getByText('New synthetic data source').click();
    await page.fill('input[name=name]', 'form battery');
    await page.fill('input[name="asset.initialSocMWh"]', '20');
    await page.getByRole('button', { name: 'Create data source' }).click();
    const reason = page.locator('[data-field-error="asset.initialSocMWh"]');
    await reason.waitFor();
    expect(await reason.textContent()).toBe('must be between socMinMWh (1) and socMaxMWh (9)');
    await shot('new-source-refused');

    await page.fill('input[name="asset.initialSocMWh"]', '4');
    await page.getByRole('button', { name: 'Create data source' }).click();
    await page.waitForURL((url) => ![null, before].includes(url.searchParams.get('source')));
    const id = new URL(page.url()).searchParams.get('source');
    const created = await http<{ name: string; asset: { initialSocMWh: number } }>(
      base,
      'GET',
      `/api/energy/sources/${id}`,
    );
    expect(created.body).toMatchObject({ name: 'form battery', asset: { initialSocMWh: 4 } });
    expect(await page.locator('select[name=source]').inputValue()).toBe(id);
    expect(await reason.count()).toBe(0);
    await shot('new-source-created');
  });
});
