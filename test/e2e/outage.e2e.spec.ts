import { Client } from 'pg';
import { PrivateNats, PrivatePostgres } from '../support/private-servers';
import { DATABASE_URL, http as request, TestSystem, type HttpAnswer } from '../support/system';

jest.setTimeout(90_000);

const backtest = {
  strategy: 'sma-crossover',
  params: { fast: 10, slow: 30 },
  dataset: { synthetic: { bars: 1_000, seed: 1, timeframe: '1m' } },
};

/**
 * How long each answer took, by request: printed with RELIABILITY_FIGURES=1 for RELIABILITY.md,
 * never asserted (a wall-clock bound would fail on a loaded machine; the bounds are settings).
 */
const figures: string[] = [];
async function http<T = Record<string, unknown>>(
  base: string,
  method: string,
  url: string,
  body?: unknown,
  headers: Record<string, string> = {},
): Promise<HttpAnswer<T>> {
  const started = performance.now();
  const res = await request<T>(base, method, url, body, headers);
  const keyed = headers['Idempotency-Key'] ? ' (keyed)' : '';
  figures.push(`${method} ${url}${keyed}: ${res.status} in ${Math.round(performance.now() - started)} ms`);
  return res;
}
afterAll(() => {
  if (process.env.RELIABILITY_FIGURES) console.log(figures.join('\n'));
});

/** What every request that needs a server that does not answer gets: 503 naming it, with Retry-After. */
function expectUnavailable(res: HttpAnswer, down: 'NATS' | 'Postgres'): void {
  expect({ status: res.status, retryAfter: res.headers.get('retry-after') }).toEqual({ status: 503, retryAfter: '5' });
  const what =
    down === 'NATS'
      ? /^the event log \(NATS\) did not answer; try again shortly/
      : /^the read models \(Postgres\) did not answer/;
  expect(res.body).toEqual({ statusCode: 503, error: 'Service Unavailable', message: expect.stringMatching(what) });
}

/**
 * The gateway while NATS or Postgres is down or hung: private servers (the shared ones are never
 * touched), stopped or paused under a running gateway. How long the 503 takes is a setting
 * (NATS_REQUEST_TIMEOUT_MS, DB_CONNECT_TIMEOUT_MS, DB_QUERY_TIMEOUT_MS, HEALTH_CHECK_TIMEOUT_MS);
 * the figures measured are in RELIABILITY.md.
 */
describe('a NATS outage seen from the API', () => {
  let nats: PrivateNats | undefined;
  let sys: TestSystem | undefined;

  beforeAll(async () => {
    nats = await PrivateNats.start();
    sys = await TestSystem.start(['gateway'], { NATS_URL: nats.url });
  });

  afterAll(async () => {
    await nats?.destroy();
    await sys?.stop();
  });

  it('a hung NATS (it accepts, never answers): every submission, keyed or not, and readiness answer 503', async () => {
    const gateway = (sys as TestSystem).gateway.url;
    expect((await http(gateway, 'POST', '/api/backtests', backtest)).status).toBe(202);
    nats?.pause(true);
    try {
      expectUnavailable(await http(gateway, 'POST', '/api/backtests', backtest), 'NATS');
      // A keyed submission (an idempotency claim, then two publishes) is refused after one timeout, not three.
      expectUnavailable(
        await http(gateway, 'POST', '/api/backtests', backtest, { 'Idempotency-Key': 'hung-key-1' }),
        'NATS',
      );
      const ready = await http<{ checks: Record<string, boolean> }>(gateway, 'GET', '/health/ready');
      expect(ready.status).toBe(503);
      expect(ready.body.checks).toMatchObject({ streams: false });
    } finally {
      nats?.pause(false);
    }
    // Back: the same key is accepted once, and again with the same id.
    const first = await http<{ id: string }>(gateway, 'POST', '/api/backtests', backtest, {
      'Idempotency-Key': 'hung-key-2',
    });
    const again = await http<{ id: string }>(gateway, 'POST', '/api/backtests', backtest, {
      'Idempotency-Key': 'hung-key-2',
    });
    expect([first.status, again.body.id]).toEqual([202, first.body.id]);
  });

  it('answers 503 naming NATS, with Retry-After, instead of an anonymous 500', async () => {
    const gateway = (sys as TestSystem).gateway.url;
    expect((await http(gateway, 'POST', '/api/backtests', backtest)).status).toBe(202);
    await nats?.stop();
    expectUnavailable(await http(gateway, 'POST', '/api/backtests', backtest), 'NATS');
    // A keyed submission (an idempotency claim, then two publishes) is refused the same way, and
    // readiness says NATS is down.
    expectUnavailable(
      await http(gateway, 'POST', '/api/backtests', backtest, { 'Idempotency-Key': 'outage-key-1' }),
      'NATS',
    );
    const ready = await http<{ checks: Record<string, boolean> }>(gateway, 'GET', '/health/ready');
    expect(ready.status).toBe(503);
    expect(ready.body.checks).toMatchObject({ nats: false, streams: false });
  });
});

describe('a Postgres outage seen from the API', () => {
  let postgres: PrivatePostgres | undefined;
  let sys: TestSystem | undefined;

  beforeAll(async () => {
    postgres = await PrivatePostgres.start();
    sys = await TestSystem.start([]);
    // The projection migrates the private database's schema; the gateway reads it.
    await sys.spawn('projection', { DATABASE_URL: postgres.url });
    await sys.spawn('gateway', { DATABASE_URL: postgres.url });
  });

  afterAll(async () => {
    await sys?.stop();
    await postgres?.destroy();
  });

  it('reads answer 503 naming Postgres while it is stopped; readiness says so; both recover when it is back', async () => {
    const gateway = (sys as TestSystem).gateway.url;
    expect((await http(gateway, 'GET', '/api/runs')).status).toBe(200);
    await postgres?.stop('fast');
    try {
      expectUnavailable(await http(gateway, 'GET', '/api/runs'), 'Postgres');
      expectUnavailable(await http(gateway, 'GET', '/api/schedules'), 'Postgres');
      const ready = await http<{ checks: Record<string, boolean> }>(gateway, 'GET', '/health/ready');
      expect(ready.status).toBe(503);
      expect(ready.body.checks).toMatchObject({ nats: true, postgres: false });
    } finally {
      await postgres?.start();
    }
    expect((await http(gateway, 'GET', '/api/runs')).status).toBe(200);
  });
});

describe('a Postgres that does not answer a query (a lock held elsewhere)', () => {
  let sys: TestSystem | undefined;

  beforeAll(async () => {
    sys = await TestSystem.start(['gateway'], { DB_QUERY_TIMEOUT_MS: '1000' });
  });

  afterAll(async () => {
    await sys?.stop();
  });

  it('a read blocked past DB_QUERY_TIMEOUT_MS answers 503 naming Postgres, not a hang', async () => {
    const gateway = (sys as TestSystem).gateway.url;
    const pg = new Client({ connectionString: DATABASE_URL });
    await pg.connect();
    try {
      await pg.query('BEGIN');
      await pg.query(`LOCK TABLE "${(sys as TestSystem).iso.schema}".runs IN ACCESS EXCLUSIVE MODE`);
      expectUnavailable(await http(gateway, 'GET', '/api/runs'), 'Postgres');
    } finally {
      await pg.query('ROLLBACK');
      await pg.end();
    }
    expect((await http(gateway, 'GET', '/api/runs')).status).toBe(200);
  });
});
