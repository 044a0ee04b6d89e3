import { http, TestSystem } from '../support/system';

/** Rate limits per credential, body limits, security headers and CORS, with low limits configured. */
describe('abuse limits at the gateway', () => {
  let sys: TestSystem;
  const allowed = 'https://dashboard.example';

  beforeAll(async () => {
    sys = await TestSystem.start(['gateway'], {
      RUNFORGE_RATE_LIMIT_MAX: '3',
      RUNFORGE_RATE_LIMIT_WINDOW_MS: '600000',
      RUNFORGE_JSON_BODY_LIMIT: '2048',
      RUNFORGE_CSV_BODY_LIMIT: '8192',
      RUNFORGE_CORS_ORIGINS: allowed,
    });
  });

  afterAll(async () => {
    await sys?.stop();
  });

  it('answers 429 with Retry-After once a key used up its submissions; reads and other keys go on', async () => {
    const key = await sys.createKey('operator', 'flood');
    const as = { authorization: `Bearer ${key}` };
    // Refused submissions count too: the budget is for work asked, not work accepted.
    const statuses: number[] = [];
    for (let i = 0; i < 4; i++) statuses.push((await http(sys.gateway.url, 'POST', '/api/backtests', {}, as)).status);
    expect(statuses).toEqual([400, 400, 400, 429]);
    const limited = await http<{ message: string }>(sys.gateway.url, 'POST', '/api/runs', {}, as);
    expect(limited.status).toBe(429);
    expect(Number(limited.headers.get('retry-after'))).toBeGreaterThan(0);
    expect(limited.body).toEqual({
      statusCode: 429,
      error: 'Too Many Requests',
      message: expect.stringMatching(/at most 3 submissions/),
    });
    // Reads are not limited, and another key has its own budget.
    expect((await http(sys.gateway.url, 'GET', '/api/runs', undefined, as)).status).toBe(200);
    expect((await http(sys.gateway.url, 'POST', '/api/backtests', {})).status).toBe(400);
  });

  it('answers 413 over the JSON and the CSV body limits, each its own', async () => {
    const json = await http<{ statusCode: number; message: string }>(sys.gateway.url, 'POST', '/api/keys', {
      name: 'x'.repeat(4096),
      role: 'viewer',
    });
    expect(json.status).toBe(413);
    expect(json.body).toMatchObject({ statusCode: 413, message: expect.stringMatching(/too large/i) });
    const csv = (rows: number) =>
      sys.fetch('/api/datasets?symbol=BIG', {
        method: 'POST',
        headers: { 'content-type': 'text/csv' },
        body: 'time,open,high,low,close,volume\n' + '1,1,1,1,1,1\n'.repeat(rows),
      });
    // 4 KB of CSV is over the JSON limit but within the CSV one: parsed (a 4xx about its content, not 413).
    expect((await csv(330)).status).not.toBe(413);
    expect((await csv(1000)).status).toBe(413);
  });

  it('sends security headers and keeps CORS closed but to the listed origins', async () => {
    const index = await fetch(`${sys.gateway.url}/`);
    expect(index.headers.get('content-security-policy')).toMatch(/script-src 'self'/);
    expect(index.headers.get('x-content-type-options')).toBe('nosniff');
    expect(index.headers.get('x-frame-options')).toBe('SAMEORIGIN');
    const preflight = (origin: string) =>
      fetch(`${sys.gateway.url}/api/runs`, {
        method: 'OPTIONS',
        headers: { origin, 'access-control-request-method': 'GET', 'access-control-request-headers': 'authorization' },
      });
    expect((await preflight('https://evil.example')).headers.get('access-control-allow-origin')).toBeNull();
    expect((await preflight(allowed)).headers.get('access-control-allow-origin')).toBe(allowed);
  });
});
