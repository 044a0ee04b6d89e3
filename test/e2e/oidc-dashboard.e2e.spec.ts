import type { Page } from 'playwright-core';
import { fillBacktestForm, launchBrowser, type TestBrowser } from '../support/browser';
import { eventually } from '../support/eventually';
import { startIdp, type TestIdp } from '../support/oidc-idp';
import { freePort, http, TestSystem } from '../support/system';

/**
 * The dashboard's OIDC sign-in against a real OpenID Provider (oidc-provider, its development login
 * and consent pages), in headless Chromium: the authorization code flow with PKCE from the browser,
 * the access token (a JWT for the gateway's audience, its `groups` claim mapped to a role) kept in
 * sessionStorage and sent as Bearer, the principal shown, what the role allows, and a token that
 * expires signing the dashboard out with a message.
 */
const UI_TIMEOUT = 60_000;
jest.setTimeout(180_000);

const CLIENT_ID = 'runforge-dashboard';
const RESOURCE = 'https://runforge.test/api';
const AUDIENCE = 'runforge-api';

describe('dashboard: sign-in through OIDC (browser end to end)', () => {
  let sys: TestSystem;
  let idp: TestIdp;
  let base: string;
  const browsers: TestBrowser[] = [];

  /** A browser of its own (the IdP keeps a login session per browser), not signed in. */
  const freshPage = async (): Promise<Page> => {
    const browser = await launchBrowser(UI_TIMEOUT);
    browsers.push(browser);
    // The IdP's development pages import a web font; nothing leaves the machine.
    await browser.context.route(/^https:\/\/fonts\./, (route) => route.abort());
    return browser.page;
  };

  /** Through the dashboard's "Sign in with …" button and the IdP's login and consent pages. */
  const signInAs = async (page: Page, login: string): Promise<void> => {
    await page.goto(`${base}/`);
    await page.getByRole('button', { name: `Sign in with ${new URL(idp.issuer).host}` }).click();
    await page.locator('input[name=login]').fill(login);
    await page.locator('input[name=password]').fill('any password');
    await page.getByRole('button', { name: 'Sign-in' }).click();
    await page.getByRole('button', { name: 'Continue' }).click();
    await page.waitForURL(`${base}/`);
  };

  beforeAll(async () => {
    const idpPort = await freePort();
    const issuer = `http://127.0.0.1:${idpPort}`;
    sys = await TestSystem.start(['gateway', 'projection'], {
      RUNFORGE_OIDC_ISSUER: issuer,
      RUNFORGE_OIDC_AUDIENCE: AUDIENCE,
      RUNFORGE_OIDC_JWKS_URL: `${issuer}/jwks`,
      RUNFORGE_OIDC_ROLE_CLAIM: 'groups',
      RUNFORGE_OIDC_ROLE_MAP: 'rf-readers=viewer,rf-ops=operator',
      RUNFORGE_OIDC_CLIENT_ID: CLIENT_ID,
      RUNFORGE_OIDC_SCOPES: 'openid profile runforge',
      RUNFORGE_OIDC_RESOURCE: RESOURCE,
    });
    base = sys.gateway.url;
    idp = await startIdp({
      port: idpPort,
      clientId: CLIENT_ID,
      redirectUri: `${base}/auth/callback`,
      resource: RESOURCE,
      audience: AUDIENCE,
      groups: { ada: ['rf-ops', 'staff'], vic: ['rf-readers'], eve: ['rf-readers'], mallory: ['staff'] },
      shortLived: ['eve'],
      shortTtlSeconds: 8,
    });
  });

  afterAll(async () => {
    for (const b of browsers) await b.close();
    await idp?.stop();
    await sys?.stop();
  });

  it('tells the dashboard, without a credential, where to sign in; the CSP lets it reach the issuer', async () => {
    const res = await fetch(`${base}/api/auth/config`);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({
      apiKey: true,
      oidc: { issuer: idp.issuer, clientId: CLIENT_ID, scopes: 'openid profile runforge', resource: RESOURCE },
    });
    const csp = (await fetch(`${base}/`)).headers.get('content-security-policy') ?? '';
    expect(csp).toContain(`connect-src 'self' ${idp.issuer}`);
  });

  it('signs an operator in through the IdP: the principal shown, the token as Bearer, runs listed and submitted', async () => {
    const page = await freshPage();
    await signInAs(page, 'ada');
    await page
      .getByTestId('signed-in')
      .filter({ hasText: `ada (operator) via ${new URL(idp.issuer).host}` })
      .waitFor();
    await page.getByRole('heading', { name: 'Runs' }).waitFor();
    // The session holds the access token (a JWT, not an API key) and the issuer; nothing else remains
    // of the flow (the PKCE verifier is gone), and nothing is in localStorage.
    const stored = await page.evaluate<Record<string, string>>(
      'Object.fromEntries(Object.keys(sessionStorage).map((k) => [k, sessionStorage.getItem(k)]))',
    );
    expect(Object.keys(stored).sort()).toEqual(['runforge.apiKey', 'runforge.issuer']);
    expect(stored['runforge.apiKey']).toMatch(/^ey[\w-]+\.[\w-]+\.[\w-]+$/);
    expect(await page.evaluate('localStorage.length')).toBe(0);
    const me = await http(base, 'GET', '/api/me', undefined, { authorization: `Bearer ${stored['runforge.apiKey']}` });
    expect(me.body).toEqual({ principal: { kind: 'token', id: 'ada', name: 'ada' }, role: 'operator' });

    // The list's live stream runs on the token too (it answers 200 and stays open).
    const listed = page.waitForResponse((r) => r.url().endsWith('/api/runs/stream'));
    await page.reload();
    expect((await listed).status()).toBe(200);

    await fillBacktestForm(page, base, { fast: 5, slow: 20, bars: 500 });
    await page.getByRole('button', { name: 'Run backtest' }).click();
    await page.waitForURL(/\/runs\/[A-Za-z0-9_-]+$/);
    const id = /\/runs\/([A-Za-z0-9_-]+)$/.exec(page.url())?.[1] ?? '';
    const run = await eventually(
      `run ${id} in the read model`,
      () => http<{ principal?: unknown }>(base, 'GET', `/api/runs/${id}`),
      (r) => r.status === 200,
    );
    expect(run.body.principal).toEqual({ kind: 'token', id: 'ada', name: 'ada' });
    await page.getByTestId('requested-by').filter({ hasText: 'ada' }).waitFor();

    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.getByRole('heading', { name: 'Sign in to RunForge' }).waitFor();
    expect(await page.evaluate('sessionStorage.length')).toBe(0);
  });

  it('lets a viewer read but not submit: the gateway’s 403 is shown', async () => {
    const page = await freshPage();
    await signInAs(page, 'vic');
    await page.getByTestId('signed-in').filter({ hasText: 'vic (viewer)' }).waitFor();
    await page.getByRole('heading', { name: 'Runs' }).waitFor();
    await fillBacktestForm(page, base, { fast: 5, slow: 20, bars: 500 });
    await page.getByRole('button', { name: 'Run backtest' }).click();
    await page.getByText('this needs the operator role').waitFor();
    expect(page.url()).toMatch(/\/new/);
  });

  it('refuses a sign-in whose claims map to no role, saying so', async () => {
    const page = await freshPage();
    await page.goto(`${base}/`);
    await page.getByRole('button', { name: `Sign in with ${new URL(idp.issuer).host}` }).click();
    await page.locator('input[name=login]').fill('mallory');
    await page.locator('input[name=password]').fill('any password');
    await page.getByRole('button', { name: 'Sign-in' }).click();
    await page.getByRole('button', { name: 'Continue' }).click();
    await page.getByRole('alert').filter({ hasText: 'the gateway refused the token' }).waitFor();
    await page.getByRole('heading', { name: 'Sign in to RunForge' }).waitFor();
    expect(await page.evaluate('sessionStorage.length')).toBe(0);
  });

  it('signs out with a message once the token has expired', async () => {
    const page = await freshPage();
    await signInAs(page, 'eve');
    await page.getByTestId('signed-in').filter({ hasText: 'eve (viewer)' }).waitFor();
    const token = await page.evaluate<string>("sessionStorage.getItem('runforge.apiKey')");
    // Until the gateway refuses it (the IdP gives eve's tokens 8 s).
    await eventually(
      'the gateway to refuse the expired token',
      async () => (await http(base, 'GET', '/api/me', undefined, { authorization: `Bearer ${token}` })).status,
      (status) => status === 401,
      { timeoutMs: 30_000, intervalMs: 500 },
    );
    await page.getByRole('link', { name: 'Schedules' }).click();
    await page.getByRole('alert').filter({ hasText: 'Your session ended' }).waitFor();
    await page.getByRole('heading', { name: 'Sign in to RunForge' }).waitFor();
    expect(await page.evaluate('sessionStorage.length')).toBe(0);
  });
});
