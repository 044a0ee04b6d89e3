import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import path from 'node:path';
import { jetstreamManager, type JetStreamManager } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import { Client } from 'pg';
import { topology, type Topology } from '@runforge/contracts';
import { runMigrations } from '@runforge/read-models';
import { eventually } from './eventually';

export const NATS_URL = process.env.NATS_URL ?? 'nats://127.0.0.1:4222';
export const DATABASE_URL = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
/** The repository root, wherever this file was compiled to (tests run it from source, benches from bench/dist). */
export const ROOT = repoRoot(__dirname);

/**
 * The repository root: the nearest directory above `from` whose package.json is runforge's. This
 * file runs from test/support (jest) and compiled under bench/dist/system/test/support (benches).
 */
function repoRoot(from: string): string {
  for (let dir = from; ; dir = path.dirname(dir)) {
    const manifest = path.join(dir, 'package.json');
    const name = existsSync(manifest)
      ? (JSON.parse(readFileSync(manifest, 'utf8')) as { name?: string }).name
      : undefined;
    if (name === 'runforge') return dir;
    if (path.dirname(dir) === dir) throw new Error(`no runforge package.json above ${from}`);
  }
}

export type ServiceName = 'gateway' | 'engine-worker' | 'projection' | 'scheduler';

export interface ServiceProcess {
  readonly name: ServiceName;
  readonly port: number;
  readonly url: string;
  readonly child: ChildProcess;
  readonly output: string[];
  exited: Promise<number | null>;
}

/** A per-test-run namespace: its own streams, subjects and Postgres schema. */
export interface Isolation {
  readonly namespace: string;
  readonly schema: string;
  readonly topology: Topology;
  readonly env: NodeJS.ProcessEnv;
}

/** A fresh API key secret, shaped like the gateway's (`rf_` + 256 random bits). */
export function newApiKeySecret(): string {
  return `rf_${randomBytes(32).toString('base64url')}`;
}

export function newIsolation(): Isolation {
  const namespace = `t${randomBytes(5).toString('hex')}`;
  const schema = `rf_${namespace}`;
  return {
    namespace,
    schema,
    topology: topology(namespace),
    env: {
      NATS_URL,
      DATABASE_URL,
      DB_SCHEMA: schema,
      RUNFORGE_NAMESPACE: namespace,
      LOG_LEVEL: 'warn',
      // The gateway stores it (hashed) at start: every test system has an admin key at once.
      RUNFORGE_BOOTSTRAP_ADMIN_KEY: newApiKeySecret(),
      RUNFORGE_BOOTSTRAP_ADMIN_NAME: 'test-admin',
    },
  };
}

/**
 * The admin key of each test gateway, by base URL: `http(sys.gateway.url, …)` sends it unless the
 * call names its own `authorization` header (an empty one sends none).
 */
const GATEWAY_KEYS = new Map<string, string>();

/** A free TCP port on loopback (for a service the test or bench starts). */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

/**
 * The four services as real processes (built output, as `npm start` runs them) against the real
 * NATS and Postgres, isolated by namespace and schema. Stops and cleans everything in `stop()`.
 */
export class TestSystem {
  readonly processes: ServiceProcess[] = [];

  private constructor(readonly iso: Isolation) {}

  static async start(
    services: readonly ServiceName[] = ['gateway', 'engine-worker', 'projection', 'scheduler'],
    extraEnv: NodeJS.ProcessEnv = {},
  ): Promise<TestSystem> {
    const sys = new TestSystem(newIsolation());
    await runMigrations({ databaseUrl: DATABASE_URL, dbSchema: sys.iso.schema });
    try {
      await Promise.all(services.map((s) => sys.spawn(s, extraEnv)));
    } catch (err) {
      await sys.stop();
      throw err;
    }
    return sys;
  }

  /** The system's admin API key (see `RUNFORGE_BOOTSTRAP_ADMIN_KEY`). */
  get apiKey(): string {
    const key = this.iso.env.RUNFORGE_BOOTSTRAP_ADMIN_KEY;
    if (!key) throw new Error('the isolation has no bootstrap admin key');
    return key;
  }

  /** `fetch` against the gateway with the admin key (a given `authorization` header wins). */
  fetch(pathAndQuery: string, init: RequestInit = {}): Promise<Response> {
    return fetch(`${this.gateway.url}${pathAndQuery}`, {
      ...init,
      headers: { ...authHeaders(this), ...(init.headers as Record<string, string> | undefined) },
    });
  }

  /** Creates a key with `role` through the keys API; answers its secret. */
  async createKey(role: 'viewer' | 'operator' | 'admin', name = `test-${role}`): Promise<string> {
    const r = await http<{ secret: string }>(this.gateway.url, 'POST', '/api/keys', { name, role });
    if (r.status !== 201) throw new Error(`creating a ${role} key: HTTP ${r.status} ${JSON.stringify(r.body)}`);
    return r.body.secret;
  }

  get gateway(): ServiceProcess {
    const g = this.processes.find((p) => p.name === 'gateway');
    if (!g) throw new Error('gateway not started');
    return g;
  }

  async spawn(name: ServiceName, extraEnv: NodeJS.ProcessEnv = {}): Promise<ServiceProcess> {
    const port = await freePort();
    // RUNFORGE_TEST_NODE_ARGS: extra node flags for the services (e.g. `--prof` to profile a bench).
    const nodeArgs = (process.env.RUNFORGE_TEST_NODE_ARGS ?? '').split(' ').filter(Boolean);
    const child = spawn(process.execPath, [...nodeArgs, path.join(ROOT, 'apps', name, 'dist', 'main.js')], {
      cwd: ROOT,
      env: { ...process.env, ...this.iso.env, PORT: String(port), HTTP_HOST: '127.0.0.1', ...extraEnv },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const output: string[] = [];
    const keep = (chunk: Buffer): void => {
      output.push(chunk.toString());
      if (output.length > 2000) output.shift();
    };
    child.stdout?.on('data', keep);
    child.stderr?.on('data', keep);
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    const proc: ServiceProcess = { name, port, url: `http://127.0.0.1:${port}`, child, output, exited };
    this.processes.push(proc);
    const key = extraEnv.RUNFORGE_BOOTSTRAP_ADMIN_KEY ?? this.iso.env.RUNFORGE_BOOTSTRAP_ADMIN_KEY;
    if (name === 'gateway' && key) GATEWAY_KEYS.set(proc.url, key);
    let dead = false;
    void exited.then(() => (dead = true));
    await eventually(
      `${name} to be ready on :${port}`,
      async () => {
        if (dead) throw new Error(`${name} exited: ${output.join('').slice(-3000)}`);
        const r = await fetch(`${proc.url}/health/ready`);
        return r.status;
      },
      (s) => s === 200 || dead,
      { timeoutMs: 30_000, intervalMs: 100 },
    );
    if (dead) throw new Error(`${name} exited during start:\n${output.join('').slice(-3000)}`);
    return proc;
  }

  async kill(proc: ServiceProcess, signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    proc.child.kill(signal);
    await proc.exited;
  }

  async stop(): Promise<void> {
    await Promise.all(
      this.processes.map(async (p) => {
        if (p.child.exitCode === null && p.child.signalCode === null) {
          p.child.kill('SIGTERM');
          const timer = setTimeout(() => p.child.kill('SIGKILL'), 5000);
          await p.exited;
          clearTimeout(timer);
        }
      }),
    );
    await cleanupIsolation(this.iso);
  }
}

/** Deletes the namespace's streams and drops its schema. */
/**
 * Removes what a namespace left in NATS (its RUNS and WORK streams, the datasets object store and
 * KV buckets: every stream named `…_<namespace>`) and a schema with the shadows a rebuild makes.
 */
export async function removeNamespace(
  jsm: JetStreamManager,
  pg: { query: (sql: string) => Promise<unknown> },
  namespace: string,
  schema: string,
): Promise<void> {
  for (const name of await jsm.streams.names().next()) {
    if (name.endsWith(`_${namespace}`)) await jsm.streams.delete(name).catch(() => undefined);
  }
  for (const s of [schema, `${schema}_rebuild`, `${schema}_replaced`])
    await pg.query(`DROP SCHEMA IF EXISTS "${s}" CASCADE`);
}

export async function cleanupIsolation(iso: Isolation): Promise<void> {
  const nc = await connect({ servers: NATS_URL });
  const pg = new Client({ connectionString: DATABASE_URL });
  await pg.connect();
  try {
    await removeNamespace(await jetstreamManager(nc), pg, iso.namespace, iso.schema);
  } finally {
    await pg.end();
    await nc.close();
  }
}

export interface HttpAnswer<T = Record<string, unknown>> {
  readonly status: number;
  readonly headers: Headers;
  readonly body: T;
}

/** The `authorization` header with the system's admin key. */
export function authHeaders(sys: TestSystem | string): Record<string, string> {
  return { authorization: `Bearer ${typeof sys === 'string' ? sys : sys.apiKey}` };
}

/** The headers to send: the gateway's admin key unless `headers` names an `authorization` (empty: none). */
function withAuth(base: string, headers: Record<string, string>): Record<string, string> {
  const named = Object.keys(headers).find((h) => h.toLowerCase() === 'authorization');
  if (named !== undefined) {
    const { [named]: value, ...rest } = headers;
    return value ? { ...rest, authorization: value } : rest;
  }
  const key = GATEWAY_KEYS.get(base);
  return key ? { ...headers, ...authHeaders(key) } : headers;
}

export async function http<T = Record<string, unknown>>(
  base: string,
  method: string,
  url: string,
  body?: unknown,
  headers: Record<string, string> = {},
): Promise<HttpAnswer<T>> {
  const sent = withAuth(base, headers);
  const r = await fetch(`${base}${url}`, {
    method,
    headers: body === undefined ? sent : { 'content-type': 'application/json', ...sent },
    body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
  });
  const text = await r.text();
  let parsed: unknown = text;
  try {
    parsed = text ? JSON.parse(text) : undefined;
  } catch {
    /* not JSON */
  }
  return { status: r.status, headers: r.headers, body: parsed as T };
}
