import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { chromium, type BrowserContext, type Page } from 'playwright-core';

/** Debian's `chromium` (no browser download); `CHROMIUM_PATH` points elsewhere. */
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

/** A headless Chromium for the dashboard's browser tests: one page, its own throwaway profile. */
export interface TestBrowser {
  readonly context: BrowserContext;
  readonly page: Page;
  close(): Promise<void>;
}

export async function launchBrowser(timeoutMs: number): Promise<TestBrowser> {
  const profile = mkdtempSync(path.join(tmpdir(), 'rf-chromium-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    // Fixed, so screenshots compare against their references (test/support/screenshots.ts).
    viewport: { width: 1280, height: 900 },
    deviceScaleFactor: 1,
    locale: 'en-US',
    reducedMotion: 'reduce',
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
  const page = context.pages()[0] ?? (await context.newPage());
  page.setDefaultTimeout(timeoutMs);
  return {
    context,
    page,
    close: async () => {
      await context.close();
      rmSync(profile, { recursive: true, force: true });
    },
  };
}

/**
 * Signs the dashboard in with `apiKey` on every page the browser opens from now on (as the sign-in
 * form would: the key in sessionStorage).
 */
export async function signInDashboard(browser: TestBrowser, apiKey: string): Promise<void> {
  await browser.context.addInitScript({
    content: `sessionStorage.setItem('runforge.apiKey', ${JSON.stringify(apiKey)});`,
  });
}

/** Opens the dashboard's new-run form and fills in an sma-crossover backtest over a synthetic dataset. */
export async function fillBacktestForm(
  page: Page,
  base: string,
  values: { fast: number; slow: number; bars: number },
): Promise<void> {
  await page.goto(`${base}/new`);
  await page.getByRole('radio', { name: 'Backtest' }).check();
  await page.selectOption('select[name=strategy]', 'sma-crossover');
  await page.fill('input[name=param-fast]', String(values.fast));
  await page.fill('input[name=param-slow]', String(values.slow));
  await page.fill('input[name=bars]', String(values.bars));
}

/**
 * The CSS that, during a screenshot, shows the toast containing `keepText` alone at the top of the
 * viewport. In place, its box sits on whatever fraction of a pixel the other toasts (coming and
 * going) leave it, and its text is then drawn a sub-pixel higher or lower. (Browser code as text:
 * the tests are compiled without the DOM's types.)
 */
export async function loneToastStyle(page: Page, keepText: string): Promise<string> {
  const marked = await page.evaluate<number>(
    `(() => {
      let marked = 0;
      for (const toast of document.querySelectorAll('[data-testid=toast]'))
        if (toast.textContent.includes(${JSON.stringify(keepText)})) {
          toast.setAttribute('data-screenshot', 'keep');
          marked++;
        }
      return marked;
    })()`,
  );
  if (marked !== 1) throw new Error(`${marked} toasts contain "${keepText}"; expected one`);
  return [
    '.toasts { top: 0 !important; bottom: auto !important; }',
    '.toast:not([data-screenshot=keep]) { display: none !important; }',
  ].join('\n');
}
