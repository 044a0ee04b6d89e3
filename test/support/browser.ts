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
