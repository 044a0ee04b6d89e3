import { spawnSync } from 'node:child_process';
import { generateKeyPairSync, sign, type KeyObject } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createUser } from '@nats-io/nkeys';
import { jetstreamManager } from '@nats-io/jetstream';
import { PermissionViolationError, RequestError, type MsgHdrs, type NatsConnection } from '@nats-io/nats-core';
import { connectNats, NATS_IDENTITIES, natsServerConfig, type NatsIdentity } from '@runforge/messaging';
import { TEST_ASSET } from '../support/energy';
import { eventually } from '../support/eventually';
import { PrivateNats } from '../support/private-servers';
import { waitForStatus } from '../support/runs';
import { freePort, ROOT, TestSystem, type ServiceName } from '../support/system';

jest.setTimeout(180_000);

const ISSUER = 'https://idp.test';
const AUDIENCE = 'runforge';

/** An RS256 OIDC token for the JWKS this test serves. */
function jwt(key: KeyObject, claims: Record<string, unknown>): string {
  const b64 = (v: unknown): string => Buffer.from(JSON.stringify(v)).toString('base64url');
  const now = Math.floor(Date.now() / 1000);
  const body = `${b64({ alg: 'RS256', typ: 'JWT', kid: 'k1' })}.${b64({ iss: ISSUER, aud: AUDIENCE, iat: now, exp: now + 600, ...claims })}`;
  return `${body}.${sign('RSA-SHA256', Buffer.from(body), key).toString('base64url')}`;
}

/** A message's headers, as text. */
function headerText(h: MsgHdrs | undefined): string {
  return JSON.stringify(h ? [...h] : []);
}

/** Every file under `dir`, as text. */
function filesUnder(dir: string): { file: string; text: string }[] {
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile())
    .map((e) => path.join(e.parentPath, e.name))
    .map((file) => ({ file, text: readFileSync(file).toString('latin1') }));
}

/**
 * The whole system under least privilege. Each service connects as its own nkey user with the
 * permissions `natsPermissions` derives from the topology (a private nats-server runs the generated
 * configuration; the operator provisions the streams) and the gateway as its own Postgres role.
 * One flow — keys created and revoked, runs submitted with a key and an OIDC token, cancelled,
 * a dataset uploaded, schedules changed — must pass without one permission violation; what each
 * service must not do is refused by the server; and no secret of the flow (API keys, the
 * bootstrap admin key, the OIDC token, the NATS seeds) appears in any log, any message on the bus,
 * any stream, any answer or the dashboard's bundle.
 */
describe('least privilege on the bus, and secrets that never leak', () => {
  let nats: PrivateNats;
  let sys: TestSystem;
  let dir: string;
  let jwks: Server;
  let tap: NatsConnection;
  const seedFile = (identity: NatsIdentity): string => path.join(dir, `${identity}.nk`);
  /** Every message published on the server during the test, as the operator saw it (`>`). */
  const busMessages: string[] = [];
  /** Every HTTP answer of the flow but the ones that hand out a new key's secret. */
  const answers: { request: string; status: number; text: string }[] = [];
  const toolOutput: string[] = [];
  const secrets: Record<string, string> = {};
  let violationsDuringFlow: string[] = [];

  const violations = (): string[] =>
    nats
      .log()
      .split('\n')
      .filter((l) => /Violation/.test(l));

  /** A call to the gateway with `key` (the bootstrap admin's by default), its answer recorded. */
  async function call<T = Record<string, unknown>>(
    method: string,
    url: string,
    body?: unknown,
    key = sys.apiKey,
  ): Promise<{ status: number; body: T }> {
    const res = await fetch(`${sys.gateway.url}${url}`, {
      method,
      headers: {
        authorization: `Bearer ${key}`,
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      },
      body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
    });
    const text = await res.text();
    if (!(method === 'POST' && url === '/api/keys'))
      answers.push({ request: `${method} ${url}`, status: res.status, text });
    return { status: res.status, body: (text ? JSON.parse(text) : undefined) as T };
  }

  async function newKey(role: 'viewer' | 'operator', name: string): Promise<{ id: string; secret: string }> {
    const r = await call<{ id: string; secret: string }>('POST', '/api/keys', { name, role });
    expect(r.status).toBe(201);
    return r.body;
  }

  const runStatus = (id: string) => () => call<{ status: string }>('GET', `/api/runs/${id}`).then((r) => r.body.status);

  /** The flow: every service does its part, with secrets in play everywhere a leak could happen. */
  async function flow(): Promise<void> {
    const operator = await newKey('operator', 'ci-bot');
    const viewer = await newKey('viewer', 'dashboard');
    const revoked = await newKey('operator', 'old');
    Object.assign(secrets, { operator: operator.secret, viewer: viewer.secret, revoked: revoked.secret });
    expect((await call('DELETE', `/api/keys/${revoked.id}`)).status).toBe(200);
    expect((await call('GET', '/api/runs', undefined, revoked.secret)).status).toBe(401);
    expect((await call('POST', '/api/backtests', {}, viewer.secret)).status).toBe(403);
    expect((await call('GET', '/api/keys')).status).toBe(200);

    const backtest = await call<{ id: string }>(
      'POST',
      '/api/backtests',
      {
        strategy: 'sma-crossover',
        params: { fast: 5, slow: 20 },
        dataset: { synthetic: { bars: 5_000, seed: 3, timeframe: '1h' } },
      },
      operator.secret,
    );
    expect(backtest.status).toBe(202);
    const optimization = await call<{ id: string }>(
      'POST',
      '/api/optimizations',
      {
        strategy: 'sma-crossover',
        axes: { fast: { min: 2, max: 12, step: 2 }, slow: [20, 30] },
        dataset: { synthetic: { bars: 3_000, seed: 4, timeframe: '1h' } },
      },
      secrets.token,
    );
    expect(optimization.status).toBe(202);
    await waitForStatus(sys, 'backtest', backtest.body.id, (s) => s.status === 'Completed', 'the backtest');
    await waitForStatus(sys, 'optimization', optimization.body.id, (s) => s.status === 'Completed', 'the optimization');
    expect((await call('GET', `/api/runs/${backtest.body.id}/events`, undefined, viewer.secret)).status).toBe(200);
    // The live stream (a core subscription and an ordered consumer on RUNS): its first snapshot.
    const live = new AbortController();
    const stream = await fetch(`${sys.gateway.url}/api/runs/${backtest.body.id}/stream`, {
      headers: { authorization: `Bearer ${viewer.secret}` },
      signal: live.signal,
    });
    expect(stream.status).toBe(200);
    const reader = (stream.body as ReadableStream<Uint8Array>).getReader();
    let sse = '';
    while (!sse.includes('event: snapshot')) {
      const { value, done } = await reader.read();
      if (done) break;
      sse += new TextDecoder().decode(value);
    }
    live.abort();
    expect(sse).toMatch(/event: snapshot\nid: \d+\ndata: .*"status":"Completed"/);

    const rows = ['timestamp,open,high,low,close,volume'];
    for (let i = 0; i < 300; i++) {
      const t = new Date(Date.UTC(2024, 0, 1) + i * 3600_000).toISOString();
      const c = 100 + 10 * Math.sin(i / 15);
      rows.push([t, c, c + 0.5, c - 0.5, c, 1000].join(','));
    }
    const upload = await sys.fetch('/api/datasets?symbol=PERM', {
      method: 'POST',
      headers: { 'content-type': 'text/csv', authorization: `Bearer ${operator.secret}` },
      body: `${rows.join('\n')}\n`,
    });
    const uploaded = await upload.text();
    answers.push({ request: 'POST /api/datasets', status: upload.status, text: uploaded });
    expect(upload.status).toBe(201);
    const onUpload = await call<{ id: string }>(
      'POST',
      '/api/backtests',
      {
        strategy: 'sma-crossover',
        params: { fast: 5, slow: 20 },
        dataset: { id: (JSON.parse(uploaded) as { id: string }).id },
      },
      operator.secret,
    );
    expect(onUpload.status).toBe(202);
    await waitForStatus(
      sys,
      'backtest',
      onUpload.body.id,
      (s) => s.status === 'Completed',
      'the backtest on the upload',
    );

    // A program that runs until cancelled: the gateway asks, the worker hears it and ends the run.
    const sleeper = await call<{ id: string }>(
      'POST',
      '/api/runs',
      { kind: 'perm-sleeper', params: {} },
      operator.secret,
    );
    expect(sleeper.status).toBe(202);
    await eventually('the sleeper to run', runStatus(sleeper.body.id), (s) => s === 'Running');
    expect((await call('POST', `/api/runs/${sleeper.body.id}/cancel`, undefined, operator.secret)).status).toBe(200);
    await eventually('the sleeper to be cancelled', runStatus(sleeper.body.id), (s) => s === 'Cancelled');

    const schedule = await call<{ id: string }>('POST', '/api/schedules', {
      name: 'permissions',
      cron: '0 10 * * *',
      timezone: 'UTC',
      template: {
        kind: 'backtest',
        strategy: 'sma-crossover',
        params: { fast: 5, slow: 20 },
        dataset: { synthetic: { bars: 500, seed: 1, timeframe: '1h' } },
      },
    });
    expect(schedule.status).toBe(201);
    expect((await call('POST', `/api/schedules/${schedule.body.id}/pause`)).status).toBe(200);
    const fired = await call<{ id: string }>(
      'POST',
      `/api/schedules/${schedule.body.id}/trigger`,
      undefined,
      operator.secret,
    );
    expect(fired.status).toBe(202);
    await waitForStatus(sys, 'backtest', fired.body.id, (s) => s.status === 'Completed', 'the triggered run');
    expect((await call('DELETE', `/api/schedules/${schedule.body.id}`)).status).toBe(204);

    // An energy data source (object store) and a day-ahead plan, which commits positions (KV).
    const source = await call<{ id: string }>('POST', '/api/energy/sources', {
      name: 'least-privilege battery',
      asset: TEST_ASSET,
      synthetic: { seed: 7, days: 3 },
    });
    expect(source.status).toBe(201);
    const dmo = await call<{ id: string }>(
      'POST',
      '/api/runs',
      { kind: 'dmo', data_source_id: source.body.id },
      operator.secret,
    );
    expect(dmo.status).toBe(202);
    await eventually('the DMO run to complete', runStatus(dmo.body.id), (s) => s === 'Completed', {
      timeoutMs: 60_000,
    });
  }

  beforeAll(async () => {
    sys = await TestSystem.start([]);
    secrets.bootstrapAdmin = sys.apiKey;
    dir = mkdtempSync(path.join(tmpdir(), 'rf-nats-auth-'));
    const users = {} as Record<NatsIdentity, string>;
    for (const identity of NATS_IDENTITIES) {
      const kp = createUser();
      const seed = new TextDecoder().decode(kp.getSeed());
      secrets[`${identity} seed`] = seed;
      writeFileSync(seedFile(identity), seed, { mode: 0o600 });
      users[identity] = kp.getPublicKey();
    }
    const configFile = path.join(dir, 'nats.conf');
    writeFileSync(configFile, natsServerConfig({ topology: sys.iso.topology, users }));
    nats = await PrivateNats.start({ configFile });
    tap = await connectNats(nats.url, 'tap', 'admin', { NATS_NKEY_SEED_FILE: seedFile('admin') });
    tap.subscribe('>', {
      callback: (_err, m) => void busMessages.push(`${m.subject} ${headerText(m.headers)} ${m.string()}`),
    });
    // The operator provisions; the services may only look the streams up.
    const provision = spawnSync(process.execPath, [path.join(ROOT, 'apps/projection/dist/cli/provision.js')], {
      env: { ...process.env, ...sys.iso.env, NATS_URL: nats.url, NATS_NKEY_SEED_FILE: seedFile('admin') },
      encoding: 'utf8',
    });
    toolOutput.push(provision.stdout, provision.stderr);
    expect(provision.stdout).toMatch(/provisioned/);

    const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const jwk = { ...publicKey.export({ format: 'jwk' }), kid: 'k1', alg: 'RS256', use: 'sig' };
    const jwksPort = await freePort();
    jwks = createServer((_req, res) => {
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify({ keys: [jwk] }));
    });
    await new Promise<void>((resolve) => jwks.listen(jwksPort, '127.0.0.1', resolve));
    secrets.token = jwt(privateKey, { sub: 'u-42', preferred_username: 'ada', groups: ['rf-ops'] });

    const kinds = path.join(dir, 'kinds.yaml');
    writeFileSync(
      kinds,
      "kinds:\n  perm-sleeper:\n    description: Runs until cancelled.\n    command: [sh, -c, 'echo PROGRESS:1; exec sleep 300']\n",
    );
    const env = (name: ServiceName): NodeJS.ProcessEnv => ({
      RUNFORGE_PROGRAM_KINDS: kinds,
      NATS_URL: nats.url,
      NATS_NKEY_SEED_FILE: seedFile(name),
      SCHEDULER_TICK_MS: '200',
      // Info: request lines are logged, so the leak grep has something to search.
      LOG_LEVEL: 'info',
      RUNFORGE_OIDC_ISSUER: ISSUER,
      RUNFORGE_OIDC_AUDIENCE: AUDIENCE,
      RUNFORGE_OIDC_JWKS_URL: `http://127.0.0.1:${jwksPort}/jwks`,
      RUNFORGE_OIDC_ROLE_CLAIM: 'groups',
      RUNFORGE_OIDC_ROLE_MAP: 'rf-ops=operator',
    });
    for (const name of ['gateway', 'engine-worker', 'projection', 'scheduler'] as const)
      await sys.spawn(name, env(name));

    const before = violations().length;
    await flow();
    violationsDuringFlow = violations().slice(before);
  });

  afterAll(async () => {
    await tap?.close();
    await sys?.stop();
    await nats?.destroy();
    await new Promise((resolve) => jwks?.close(resolve));
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('the services do their whole work under their own users without one permission violation', () => {
    expect(answers.filter((a) => a.status >= 500)).toEqual([]);
    expect(violationsDuringFlow).toEqual([]);
  });

  it('no secret in any log, message on the bus, stream, answer or the dashboard bundle', async () => {
    // What is left in every stream of the namespace (events, schedules, KV and object buckets).
    const stored: string[] = [];
    const jsm = await jetstreamManager(tap);
    const streams = (await jsm.streams.names().next()).filter((n) => n.endsWith(`_${sys.iso.namespace}`));
    for (const name of streams) {
      const { state } = await jsm.streams.info(name);
      for (let seq = state.first_seq; state.messages > 0 && seq <= state.last_seq; seq++) {
        const m = await jsm.streams.getMessage(name, { seq }).catch(() => null);
        if (m) stored.push(`${name} ${m.subject} ${headerText(m.header)} ${m.string()}`);
      }
    }
    const haystacks: Record<string, string> = {
      logs: [...sys.processes.flatMap((p) => p.output), nats.log(), ...toolOutput].join(''),
      bus: busMessages.join('\n'),
      streams: stored.join('\n'),
      answers: answers.map((a) => `${a.request} ${a.status} ${a.text}`).join('\n'),
      bundle: filesUnder(path.join(ROOT, 'apps/gateway/web/dist'))
        .map((f) => f.text)
        .join('\n'),
    };
    // Each place holds what it should, or the grep below proves nothing.
    expect(haystacks.logs).toMatch(/request completed/);
    expect(haystacks.logs).toMatch(/"authorization":"\[redacted\]"/);
    expect(haystacks.bus).toMatch(/"type":"RunRequested"/);
    expect(haystacks.bus).toMatch(/"type":"TrialCompleted"|trials_recorded/);
    expect(streams.map((n) => n.split('_')[0]).sort()).toEqual(
      expect.arrayContaining(['KV', 'OBJ', 'RUNS', 'SCHEDULES', 'WORK']),
    );
    expect(haystacks.streams).toMatch(/"principal":\{"kind":"token","id":"u-42"/);
    expect(answers.map((a) => a.status)).toEqual(expect.arrayContaining([200, 202, 204, 401, 403]));
    expect(haystacks.bundle).toMatch(/sessionStorage/);
    expect(Object.keys(secrets)).toHaveLength(10);

    const found = Object.entries(haystacks).flatMap(([where, text]) =>
      Object.entries(secrets)
        .filter(([, secret]) => text.includes(secret))
        .map(([what]) => `${what} in ${where}`),
    );
    expect(found).toEqual([]);
    // Nor anything shaped like one: an API key, an nkey seed, a JWT's signature.
    for (const [where, text] of Object.entries(haystacks)) {
      expect({ where, apiKeys: text.match(/rf_[A-Za-z0-9_-]{43}/g) }).toEqual({ where, apiKeys: null });
      expect({ where, seeds: text.match(/\bSU[A-Z2-7]{56}\b/g) }).toEqual({ where, seeds: null });
    }
    expect(haystacks.logs).not.toContain((secrets.token ?? '').split('.')[2]);
  });

  /** Connects as `identity` with its seed, as the service would. */
  async function as<T>(identity: NatsIdentity, fn: (nc: NatsConnection) => Promise<T>): Promise<T> {
    const nc = await connectNats(nats.url, `probe-${identity}`, identity, { NATS_NKEY_SEED_FILE: seedFile(identity) });
    try {
      return await fn(nc);
    } finally {
      await nc.close();
    }
  }

  /** A request the server must refuse for this user: answers the permission error it raised. */
  async function refusedRequest(nc: NatsConnection, subject: string, body = ''): Promise<PermissionViolationError> {
    const failure = await nc.request(subject, body, { timeout: 5_000 }).then(
      () => undefined,
      (e: unknown) => e,
    );
    // nats.js rejects the request with a RequestError whose cause is the server's violation.
    expect(failure).toBeInstanceOf(RequestError);
    const err = (failure as RequestError).cause;
    expect(err).toBeInstanceOf(PermissionViolationError);
    const violation = err as PermissionViolationError;
    expect({ operation: violation.operation, subject: violation.subject }).toEqual({ operation: 'publish', subject });
    return violation;
  }

  /** A subscription the server must refuse for this user. */
  async function refusedSubscription(nc: NatsConnection, subject: string): Promise<void> {
    const sub = nc.subscribe(subject);
    const closedWith = await sub.closed;
    expect(closedWith).toBeInstanceOf(PermissionViolationError);
    expect((closedWith as PermissionViolationError).operation).toBe('subscription');
  }

  const t = () => sys.iso.topology;
  const next = (c: { stream: string; durable: string }): string => `$JS.API.CONSUMER.MSG.NEXT.${c.stream}.${c.durable}`;
  const pullOne = JSON.stringify({ batch: 1, expires: 1_000_000_000 });

  it('the gateway cannot pull the workers’ queue, append a run’s outcome, purge a stream or read the work subjects', async () => {
    await as('gateway', async (nc) => {
      await refusedRequest(nc, next(t().consumers.engineHigh), pullOne);
      await refusedRequest(nc, t().runSubject('r1', 'completed'), '{}');
      await refusedRequest(nc, `$JS.API.STREAM.PURGE.${t().streams.runs.name}`);
      await refusedRequest(nc, `$JS.API.STREAM.DELETE.${t().streams.work.name}`);
      await refusedSubscription(nc, t().streams.work.subjects[0] as string);
    });
  });

  it('a worker cannot request runs, ask for cancellations, touch schedules or purge its queue', async () => {
    await as('engine-worker', async (nc) => {
      await refusedRequest(nc, t().runSubject('r1', 'requested'), '{}');
      await refusedRequest(nc, t().runSubject('r1', 'cancellation_requested'), '{}');
      await refusedRequest(nc, t().scheduleChangeSubject('s1', 'deleted'), '{}');
      await refusedRequest(nc, next(t().consumers.scheduler), pullOne);
      await refusedRequest(nc, `$JS.API.STREAM.PURGE.${t().streams.work.name}`);
    });
  });

  it('the projection cannot append events, take work, delete the workers’ consumers or read another service’s inbox', async () => {
    await as('projection', async (nc) => {
      await refusedRequest(nc, t().runSubject('r1', 'completed'), '{}');
      await refusedRequest(nc, next(t().consumers.engineNormal), pullOne);
      await refusedRequest(nc, `$JS.API.CONSUMER.DELETE.${t().streams.work.name}.trials`);
      await refusedRequest(nc, `$JS.API.STREAM.PURGE.${t().streams.runs.name}`);
      await refusedSubscription(nc, '_INBOX_gateway.>');
    });
  });

  it('the scheduler cannot record a run’s execution, take work, queue trials or purge the schedules', async () => {
    await as('scheduler', async (nc) => {
      await refusedRequest(nc, t().runSubject('r1', 'started'), '{}');
      await refusedRequest(nc, next(t().consumers.engineNormal), pullOne);
      await refusedRequest(nc, t().trialWorkSubject('r1'), '{}');
      await refusedRequest(nc, `$JS.API.STREAM.PURGE.${t().streams.schedules.name}`);
      await refusedRequest(nc, `$JS.ACK.${t().streams.runs.name}.projection.1.1.1.1.1`);
    });
  });

  it('the operator may manage the streams: what no service may do, admin can', async () => {
    await as('admin', async (nc) => {
      const purged = await nc.request(`$JS.API.STREAM.PURGE.${t().streams.schedules.name}`, '', { timeout: 5_000 });
      expect(purged.json<{ success: boolean }>()).toMatchObject({ success: true });
    });
  });
});
