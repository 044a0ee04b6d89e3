import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { connect as netConnect } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { eventually } from '../support/eventually';
import { authHeaders, freePort, http, TestSystem } from '../support/system';

jest.setTimeout(90_000);

const NATS_SERVER = process.env.NATS_SERVER_BIN ?? 'nats-server';

/** Whether something accepts TCP connections on the port. */
const listening = (port: number): Promise<boolean> =>
  new Promise((resolve) => {
    const socket = netConnect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });

/**
 * The gateway while its NATS is down: a private nats-server (the shared one is never touched),
 * killed under a running gateway.
 */
describe('a NATS outage seen from the API', () => {
  let nats: ChildProcess | undefined;
  let dir: string;
  let sys: TestSystem | undefined;

  beforeAll(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'rf-nats-'));
    const port = await freePort();
    nats = spawn(NATS_SERVER, ['-js', '-a', '127.0.0.1', '-p', String(port), '-sd', dir], { stdio: 'ignore' });
    await eventually(
      'the private nats-server to listen',
      () => listening(port),
      (up) => up,
      { timeoutMs: 15_000 },
    );
    sys = await TestSystem.start(['gateway'], { NATS_URL: `nats://127.0.0.1:${port}` });
  });

  afterAll(async () => {
    nats?.kill('SIGKILL');
    await sys?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('answers 503 naming NATS, with Retry-After, instead of an anonymous 500', async () => {
    const gateway = (sys as TestSystem).gateway.url;
    const body = {
      strategy: 'sma-crossover',
      params: { fast: 10, slow: 30 },
      dataset: { synthetic: { bars: 1_000, seed: 1, timeframe: '1m' } },
    };
    expect((await http(gateway, 'POST', '/api/backtests', body)).status).toBe(202);
    nats?.kill('SIGKILL');
    const res = await fetch(`${gateway}/api/backtests`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...authHeaders(sys as TestSystem) },
      body: JSON.stringify(body),
    });
    expect(res.status).toBe(503);
    expect(res.headers.get('retry-after')).toBe('5');
    expect(await res.json()).toEqual({
      statusCode: 503,
      error: 'Service Unavailable',
      message: expect.stringMatching(/^the event log \(NATS\) did not answer; try again shortly/),
    });
    // A keyed submission (an idempotency claim, then two publishes) is refused the same way, and
    // readiness says NATS is down.
    const keyed = await http(gateway, 'POST', '/api/backtests', body, { 'Idempotency-Key': 'outage-key-1' });
    expect(keyed.status).toBe(503);
    expect(keyed.headers.get('retry-after')).toBe('5');
    const ready = await http<{ checks: Record<string, boolean> }>(gateway, 'GET', '/health/ready');
    expect(ready.status).toBe(503);
    expect(ready.body.checks).toMatchObject({ nats: false, streams: false });
  });
});
