import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createUser } from '@nats-io/nkeys';
import { PermissionViolationError, RequestError, type NatsConnection } from '@nats-io/nats-core';
import { connectNats, NATS_IDENTITIES, natsServerConfig, type NatsIdentity } from '@runforge/messaging';
import { eventually } from '../support/eventually';
import { PrivateNats } from '../support/private-servers';
import { waitForStatus } from '../support/runs';
import { http, ROOT, TestSystem, type ServiceName } from '../support/system';

jest.setTimeout(180_000);

/**
 * Each service connects as its own nkey user with the permissions `natsPermissions` derives from
 * the topology: a private nats-server runs the generated configuration, the operator provisions the
 * streams, the real services complete a backtest, an optimization, a cancellation, a dataset upload
 * and schedule changes with no permission violation, and what each service must not do is refused
 * by the server.
 */
describe('per-service NATS users with subject permissions', () => {
  let nats: PrivateNats;
  let sys: TestSystem;
  let dir: string;
  const seedFile = (identity: NatsIdentity): string => path.join(dir, `${identity}.nk`);

  beforeAll(async () => {
    sys = await TestSystem.start([]);
    dir = mkdtempSync(path.join(tmpdir(), 'rf-nats-auth-'));
    const users = {} as Record<NatsIdentity, string>;
    for (const identity of NATS_IDENTITIES) {
      const kp = createUser();
      writeFileSync(seedFile(identity), new TextDecoder().decode(kp.getSeed()), { mode: 0o600 });
      users[identity] = kp.getPublicKey();
    }
    const configFile = path.join(dir, 'nats.conf');
    writeFileSync(configFile, natsServerConfig({ topology: sys.iso.topology, users }));
    nats = await PrivateNats.start({ configFile });
    // The operator provisions; the services may only look the streams up.
    const provision = spawnSync(process.execPath, [path.join(ROOT, 'apps/projection/dist/cli/provision.js')], {
      env: { ...process.env, ...sys.iso.env, NATS_URL: nats.url, NATS_NKEY_SEED_FILE: seedFile('admin') },
      encoding: 'utf8',
    });
    expect(`${provision.stdout}${provision.stderr}`).toMatch(/provisioned/);
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
    });
    for (const name of ['gateway', 'engine-worker', 'projection', 'scheduler'] as const)
      await sys.spawn(name, env(name));
  });

  afterAll(async () => {
    await sys?.stop();
    await nats?.destroy();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  const violations = (): string[] =>
    nats
      .log()
      .split('\n')
      .filter((l) => /Violation/.test(l));

  it('the services do their whole work under their own users without one permission violation', async () => {
    const before = violations().length;
    const api = <T = Record<string, unknown>>(method: string, url: string, body?: unknown) =>
      http<T>(sys.gateway.url, method, url, body);

    const backtest = await api<{ id: string }>('POST', '/api/backtests', {
      strategy: 'sma-crossover',
      params: { fast: 5, slow: 20 },
      dataset: { synthetic: { bars: 5_000, seed: 3, timeframe: '1h' } },
    });
    expect(backtest.status).toBe(202);
    const optimization = await api<{ id: string }>('POST', '/api/optimizations', {
      strategy: 'sma-crossover',
      axes: { fast: { min: 2, max: 12, step: 2 }, slow: [20, 30] },
      dataset: { synthetic: { bars: 3_000, seed: 4, timeframe: '1h' } },
    });
    expect(optimization.status).toBe(202);
    await waitForStatus(sys, 'backtest', backtest.body.id, (s) => s.status === 'Completed', 'the backtest to complete');
    await waitForStatus(
      sys,
      'optimization',
      optimization.body.id,
      (s) => s.status === 'Completed',
      'the optimization to complete',
    );

    const rows = ['timestamp,open,high,low,close,volume'];
    for (let i = 0; i < 300; i++) {
      const t = new Date(Date.UTC(2024, 0, 1) + i * 3600_000).toISOString();
      const c = 100 + 10 * Math.sin(i / 15);
      rows.push([t, c, c + 0.5, c - 0.5, c, 1000].join(','));
    }
    const upload = await sys.fetch('/api/datasets?symbol=PERM', {
      method: 'POST',
      headers: { 'content-type': 'text/csv' },
      body: `${rows.join('\n')}\n`,
    });
    expect(upload.status).toBe(201);
    const { id: datasetId } = (await upload.json()) as { id: string };
    const onUpload = await api<{ id: string }>('POST', '/api/backtests', {
      strategy: 'sma-crossover',
      params: { fast: 5, slow: 20 },
      dataset: { id: datasetId },
    });
    expect(onUpload.status).toBe(202);
    await waitForStatus(
      sys,
      'backtest',
      onUpload.body.id,
      (s) => s.status === 'Completed',
      'the backtest on the upload',
    );

    // A program that runs until cancelled: the gateway asks, the worker hears it and ends the run.
    const sleeper = await api<{ id: string }>('POST', '/api/runs', { kind: 'perm-sleeper', params: {} });
    expect(sleeper.status).toBe(202);
    const runStatus = (id: string) => () =>
      api<{ status: string }>('GET', `/api/runs/${id}`).then((r) => r.body.status);
    await eventually('the sleeper to run', runStatus(sleeper.body.id), (s) => s === 'Running');
    expect((await api('POST', `/api/runs/${sleeper.body.id}/cancel`)).status).toBe(200);
    await eventually('the sleeper to be cancelled', runStatus(sleeper.body.id), (s) => s === 'Cancelled');

    const schedule = await api<{ id: string }>('POST', '/api/schedules', {
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
    const fired = await api<{ id: string }>('POST', `/api/schedules/${schedule.body.id}/trigger`);
    expect(fired.status).toBe(202);
    await waitForStatus(sys, 'backtest', fired.body.id, (s) => s.status === 'Completed', 'the triggered run');
    expect((await api('DELETE', `/api/schedules/${schedule.body.id}`)).status).toBe(204);

    expect(violations().slice(before)).toEqual([]);
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
