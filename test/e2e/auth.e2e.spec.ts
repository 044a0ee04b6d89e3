import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import { METHOD_METADATA, PATH_METADATA } from '@nestjs/common/constants';
import { RequestMethod } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { dataSourceOptions } from '@runforge/read-models';
import { loadConfig } from '@runforge/service';
import { ApiKeyStore } from '../../apps/gateway/src/auth/api-key-store';
import { GatewayAppModule } from '../../apps/gateway/src/app.module';
import { DATABASE_URL, http, newApiKeySecret, ROOT, TestSystem } from '../support/system';

type Access = 'public' | 'viewer' | 'operator' | 'admin';

/**
 * What every route of the gateway needs. The test fails when the running code declares a route that
 * is not in this table (or the table names one that is gone): a new route is classified on purpose.
 */
const EXPECTED: Record<string, Access> = {
  'GET /health/live': 'public',
  'GET /health/ready': 'public',
  'GET /docs': 'public',
  'GET /docs/openapi.json': 'public',
  'GET /docs/init.js': 'public',
  'GET /api/dashboard/config': 'public',
  'GET /api/auth/config': 'public',
  'GET /metrics': 'viewer',
  'GET /api/me': 'viewer',
  'GET /api/kinds': 'viewer',
  'GET /api/strategies': 'viewer',
  'GET /api/backtests/:id/status': 'viewer',
  'GET /api/optimizations/:id/status': 'viewer',
  'GET /api/runs': 'viewer',
  'GET /api/runs/:id': 'viewer',
  'GET /api/runs/:id/events': 'viewer',
  'GET /api/runs/:id/logs': 'viewer',
  'GET /api/runs/:id/trials': 'viewer',
  'GET /api/runs/:id/stream': 'viewer',
  'GET /api/runs/stream': 'viewer',
  'GET /api/datasets': 'viewer',
  'GET /api/datasets/:id': 'viewer',
  'GET /api/energy/sources': 'viewer',
  'GET /api/energy/sources/:id': 'viewer',
  'GET /api/schedules': 'viewer',
  'GET /api/schedules/:id': 'viewer',
  'POST /api/runs': 'operator',
  'POST /api/backtests': 'operator',
  'POST /api/optimizations': 'operator',
  'POST /api/backtests/:id/cancel': 'operator',
  'POST /api/optimizations/:id/cancel': 'operator',
  'POST /api/runs/:id/cancel': 'operator',
  'POST /api/runs/:id/retry': 'operator',
  'POST /api/schedules/:id/trigger': 'operator',
  'POST /api/datasets': 'operator',
  'POST /api/energy/sources': 'operator',
  'POST /api/energy/sources/:id/cadences': 'admin',
  'POST /api/schedules': 'admin',
  'PATCH /api/schedules/:id': 'admin',
  'DELETE /api/schedules/:id': 'admin',
  'POST /api/schedules/:id/pause': 'admin',
  'POST /api/schedules/:id/resume': 'admin',
  'POST /api/keys': 'admin',
  'GET /api/keys': 'admin',
  'DELETE /api/keys/:id': 'admin',
};

/** A class, as Nest's metadata names controllers and modules. */
type Klass = abstract new (...args: never[]) => unknown;

/** Every controller of a module and the modules it imports, static or dynamic (as Nest walks them). */
function controllersOf(root: unknown): Klass[] {
  const seen = new Set<unknown>();
  const found = new Set<Klass>();
  const visit = (m: unknown): void => {
    if (!m || seen.has(m)) return;
    seen.add(m);
    const dynamic =
      typeof m === 'object' ? (m as { module?: Klass; controllers?: Klass[]; imports?: unknown[] }) : undefined;
    const cls = (dynamic ? dynamic.module : m) as Klass | undefined;
    const meta = (key: string): unknown[] =>
      cls ? ((Reflect.getMetadata(key, cls) as unknown[] | undefined) ?? []) : [];
    for (const c of [...(dynamic?.controllers ?? []), ...(meta('controllers') as Klass[])]) found.add(c);
    for (const i of [...(dynamic?.imports ?? []), ...meta('imports')]) visit(i);
  };
  visit(root);
  return [...found];
}

/** `METHOD /path` of every handler the gateway's module tree declares (Nest's own route metadata). */
function declaredRoutes(): string[] {
  const join = (...parts: (string | undefined)[]): string =>
    '/' +
    parts
      .flatMap((p) => (p ?? '').split('/'))
      .filter(Boolean)
      .join('/');
  const routes: string[] = [];
  for (const controller of controllersOf(GatewayAppModule.forRoot(loadConfig('gateway')))) {
    const base = Reflect.getMetadata(PATH_METADATA, controller) as string | undefined;
    const proto = controller.prototype as Record<string, unknown>;
    for (const name of Object.getOwnPropertyNames(proto)) {
      const handler = proto[name];
      if (name === 'constructor' || typeof handler !== 'function') continue;
      const method = Reflect.getMetadata(METHOD_METADATA, handler) as RequestMethod | undefined;
      const sub = Reflect.getMetadata(PATH_METADATA, handler) as string | undefined;
      if (method === undefined || sub === undefined) continue;
      routes.push(`${RequestMethod[method]} ${join(base, sub)}`);
    }
  }
  return routes.sort();
}

const RANK: Record<Access, number> = { public: 0, viewer: 1, operator: 2, admin: 3 };

/** Calls a route; answers only the status (a live stream is cut once its headers are in). */
async function statusOf(base: string, route: string, authorization?: string): Promise<number> {
  const [method = 'GET', pathTemplate = '/'] = route.split(' ');
  const url = base + pathTemplate.replace(/:id/g, 'no-such-id');
  const headers: Record<string, string> = authorization ? { authorization } : {};
  const withBody = method !== 'GET' && method !== 'DELETE';
  const res = await fetch(url, {
    method,
    headers: withBody ? { ...headers, 'content-type': 'application/json' } : headers,
    body: withBody ? '{}' : undefined,
  });
  await res.body?.cancel();
  return res.status;
}

describe('authentication and roles at the gateway', () => {
  let sys: TestSystem;
  let keys: Record<'viewer' | 'operator' | 'admin', string>;

  beforeAll(async () => {
    sys = await TestSystem.start(['gateway']);
    keys = {
      viewer: await sys.createKey('viewer'),
      operator: await sys.createKey('operator'),
      admin: sys.apiKey,
    };
  });

  afterAll(async () => {
    await sys?.stop();
  });

  it('classifies every route the gateway declares', () => {
    expect(declaredRoutes()).toEqual(Object.keys(EXPECTED).sort());
  });

  it.each(Object.entries(EXPECTED))('%s needs %s', async (route, needed) => {
    const base = sys.gateway.url;
    const none = await statusOf(base, route);
    const bad = await statusOf(base, route, `Bearer ${newApiKeySecret()}`);
    if (needed === 'public') {
      expect([none, bad]).not.toContain(401);
      return;
    }
    expect({ none, bad }).toEqual({ none: 401, bad: 401 });
    for (const role of ['viewer', 'operator', 'admin'] as const) {
      const status = await statusOf(base, route, `Bearer ${keys[role]}`);
      if (RANK[role] < RANK[needed]) expect({ role, status }).toEqual({ role, status: 403 });
      else expect({ role, status: [401, 403].includes(status) }).toEqual({ role, status: false });
    }
  });

  it('answers every 401 alike, asks for a bearer token, and names the missing role in a 403', async () => {
    const missing = await http(sys.gateway.url, 'GET', '/api/runs', undefined, { authorization: '' });
    const unknown = await http(sys.gateway.url, 'GET', '/api/runs', undefined, {
      authorization: `Bearer ${newApiKeySecret()}`,
    });
    const malformed = await http(sys.gateway.url, 'GET', '/api/runs', undefined, {
      authorization: 'Basic Zm9vOmJhcg==',
    });
    for (const r of [missing, unknown, malformed]) {
      expect(r.status).toBe(401);
      expect(r.body).toEqual({ statusCode: 401, message: 'authentication required' });
      expect(r.headers.get('www-authenticate')).toBe('Bearer');
    }
    const forbidden = await http(
      sys.gateway.url,
      'POST',
      '/api/backtests',
      {},
      { authorization: `Bearer ${keys.viewer}` },
    );
    expect(forbidden.status).toBe(403);
    expect(forbidden.body).toMatchObject({ requiredRole: 'operator', message: expect.stringMatching(/operator role/) });
  });

  it('creates, lists and revokes keys; a revoked or expired key is refused like an unknown one', async () => {
    const created = await http<{ id: string; secret: string; role: string; name: string; prefix: string }>(
      sys.gateway.url,
      'POST',
      '/api/keys',
      { name: 'ci', role: 'operator', expiresIn: '30d' },
    );
    expect(created.status).toBe(201);
    expect(created.body.secret).toMatch(/^rf_[A-Za-z0-9_-]{43}$/);
    expect(created.headers.get('cache-control')).toBe('no-store');
    const me = await http<{ principal: unknown; role: string }>(sys.gateway.url, 'GET', '/api/me', undefined, {
      authorization: `Bearer ${created.body.secret}`,
    });
    expect(me.body).toEqual({ principal: { kind: 'key', id: created.body.id, name: 'ci' }, role: 'operator' });

    const listed = await http<{ items: Record<string, unknown>[] }>(sys.gateway.url, 'GET', '/api/keys');
    const entry = listed.body.items.find((k) => k.id === created.body.id);
    expect(entry).toMatchObject({
      name: 'ci',
      role: 'operator',
      revokedAt: null,
      createdBy: { kind: 'key', name: 'test-admin' },
    });
    expect(JSON.stringify(listed.body)).not.toContain(created.body.secret);
    expect(JSON.stringify(listed.body)).not.toMatch(/hash/i);

    const bad = await http<{ issues: { field: string }[] }>(sys.gateway.url, 'POST', '/api/keys', {
      name: 'x',
      role: 'root',
      expiresIn: 'soon',
    });
    expect(bad.status).toBe(400);
    expect(bad.body.issues.map((i) => i.field)).toContain('role');

    const revoked = await http<{ revokedAt: string; revokedBy: unknown }>(
      sys.gateway.url,
      'DELETE',
      `/api/keys/${created.body.id}`,
    );
    expect(revoked.status).toBe(200);
    expect(revoked.body.revokedBy).toMatchObject({ kind: 'key', name: 'test-admin' });
    const after = await http(sys.gateway.url, 'GET', '/api/me', undefined, {
      authorization: `Bearer ${created.body.secret}`,
    });
    expect(after.status).toBe(401);
    expect(after.body).toEqual({ statusCode: 401, message: 'authentication required' });
    expect((await http(sys.gateway.url, 'DELETE', '/api/keys/no-such-key')).status).toBe(404);

    // An expired key (stored with an expiry already past, as time would make it).
    const db = new DataSource(dataSourceOptions({ databaseUrl: DATABASE_URL, dbSchema: sys.iso.schema }));
    await db.initialize();
    try {
      const expired = await new ApiKeyStore(db).create({
        name: 'old',
        role: 'admin',
        expiresAt: new Date(Date.now() - 1),
      });
      const r = await http(sys.gateway.url, 'GET', '/api/me', undefined, { authorization: `Bearer ${expired.secret}` });
      expect(r.status).toBe(401);
      expect(r.body).toEqual({ statusCode: 401, message: 'authentication required' });
    } finally {
      await db.destroy();
    }
  });

  it('npm run keys creates, lists and revokes keys in the database the gateway reads', async () => {
    const run = promisify(execFile);
    const cli = (...args: string[]) =>
      run(process.execPath, [path.join(ROOT, 'apps/gateway/dist/cli/keys.js'), ...args], {
        env: { ...process.env, DATABASE_URL, DB_SCHEMA: sys.iso.schema },
      });
    const created = await cli('create', '--role', 'viewer', '--name', 'cli-made', '--expires', '1d');
    const secret = created.stdout.trim();
    expect(secret).toMatch(/^rf_[A-Za-z0-9_-]{43}$/);
    const me = await http<{ principal: { id: string; name: string }; role: string }>(
      sys.gateway.url,
      'GET',
      '/api/me',
      undefined,
      { authorization: `Bearer ${secret}` },
    );
    expect(me.body).toMatchObject({ principal: { name: 'cli-made' }, role: 'viewer' });

    const listed = await cli('ls', '--json');
    const keysListed = JSON.parse(listed.stdout) as { id: string; name: string }[];
    expect(keysListed.map((k) => k.name)).toEqual(expect.arrayContaining(['cli-made', 'test-admin']));
    expect(listed.stdout).not.toContain(secret);

    await cli('revoke', me.body.principal.id);
    const after = await http(sys.gateway.url, 'GET', '/api/me', undefined, { authorization: `Bearer ${secret}` });
    expect(after.status).toBe(401);

    await expect(cli('create', '--role', 'root', '--name', 'x')).rejects.toMatchObject({
      stderr: expect.stringMatching(/root.*invalid|Allowed choices/i),
    });
  });

  it('declares the bearer scheme in the OpenAPI document', async () => {
    const doc = await http<{ components: { securitySchemes: Record<string, unknown> }; security: unknown[] }>(
      sys.gateway.url,
      'GET',
      '/docs/openapi.json',
      undefined,
      { authorization: '' },
    );
    expect(doc.body.components.securitySchemes).toMatchObject({ bearer: { type: 'http', scheme: 'bearer' } });
    expect(doc.body.security).toEqual([{ bearer: [] }]);
  });
});
