import { hostname } from 'node:os';
import { topology, type Topology } from '@runforge/contracts';
import { gatewayDatabaseUrl } from '@runforge/read-models';

/** Runtime settings of every service, from the environment (12-factor). */
export interface RunForgeConfig {
  readonly service: string;
  readonly natsUrl: string;
  /** The service's own Postgres connection: the gateway's is `GATEWAY_DATABASE_URL` (its own role). */
  readonly databaseUrl: string;
  /** The gateway's connection, which the migrate step grants its role (docs/security.md). */
  readonly gatewayDatabaseUrl: string;
  /** Postgres schema holding the read models; tests use one per run. */
  readonly dbSchema: string;
  readonly topology: Topology;
  readonly httpPort: number;
  readonly httpHost: string;
  /** Identifies a worker process in events and logs. */
  readonly instanceId: string;
  /** Minimum time between two `BarProgressed` of a run (a few per second by default). */
  readonly progressIntervalMs: number;
  /**
   * How long a JetStream request (publish, KV, lookup) waits for NATS before it fails (a 503 at the
   * gateway): NATS_REQUEST_TIMEOUT_MS, by default 1,500 ms for the gateway (clients wait on it) and
   * 5,000 ms elsewhere.
   */
  readonly natsRequestTimeoutMs: number;
  /** How long opening a Postgres connection may take (DB_CONNECT_TIMEOUT_MS; gateway 1,000 ms, else 5,000 ms). */
  readonly dbConnectTimeoutMs: number;
  /** How long a Postgres query may take before the client gives up (DB_QUERY_TIMEOUT_MS; gateway 1,500 ms, else none: 0). */
  readonly dbQueryTimeoutMs: number;
  /** How long each `/health/ready` check may take before it counts as failed (HEALTH_CHECK_TIMEOUT_MS, 800 ms). */
  readonly healthCheckTimeoutMs: number;
  /** A live stream's re-read without any event (SSE_IDLE_REFRESH_MS, 5 s): the safety net, not the path. */
  readonly sseIdleRefreshMs: number;
}

/** A non-negative number of milliseconds from the environment, or the default; a bad value stops the service. */
function millis(env: NodeJS.ProcessEnv, name: string, fallback: number): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isFinite(n) || n < 0) throw new Error(`${name} must be a number of milliseconds >= 0, got "${raw}"`);
  return n;
}

const DEFAULT_PORTS: Record<string, number> = {
  gateway: 3000,
  'engine-worker': 3001,
  projection: 3002,
  scheduler: 3003,
};

const SCHEMA_RE = /^[a-z_][a-z0-9_]{0,62}$/;

export function loadConfig(service: string, env: NodeJS.ProcessEnv = process.env): RunForgeConfig {
  const dbSchema = env.DB_SCHEMA ?? 'runforge';
  if (!SCHEMA_RE.test(dbSchema)) throw new Error(`DB_SCHEMA must match ${SCHEMA_RE.source}, got "${dbSchema}"`);
  const portVar = env[`${service.toUpperCase().replace(/-/g, '_')}_PORT`] ?? env.PORT;
  const httpPort = portVar !== undefined ? Number(portVar) : (DEFAULT_PORTS[service] ?? 0);
  if (!Number.isInteger(httpPort) || httpPort < 0 || httpPort > 65535) {
    throw new Error(`invalid HTTP port for ${service}: "${portVar}"`);
  }
  const databaseUrl = env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
  const gatewayUrl = gatewayDatabaseUrl(env, databaseUrl);
  return {
    service,
    natsUrl: env.NATS_URL ?? 'nats://127.0.0.1:4222',
    // The gateway may not write the projection's tables: it connects as its own role.
    databaseUrl: service === 'gateway' ? gatewayUrl : databaseUrl,
    gatewayDatabaseUrl: gatewayUrl,
    dbSchema,
    topology: topology(env.RUNFORGE_NAMESPACE ?? ''),
    httpPort,
    httpHost: env.HTTP_HOST ?? '0.0.0.0',
    instanceId: env.INSTANCE_ID ?? `${service}-${hostname()}-${process.pid}`,
    progressIntervalMs: Number(env.RUNFORGE_PROGRESS_INTERVAL_MS ?? 250),
    // The gateway answers clients: it fails fast (503 + Retry-After) rather than wait out NATS or Postgres.
    natsRequestTimeoutMs: millis(env, 'NATS_REQUEST_TIMEOUT_MS', service === 'gateway' ? 1500 : 5000),
    dbConnectTimeoutMs: millis(env, 'DB_CONNECT_TIMEOUT_MS', service === 'gateway' ? 1000 : 5000),
    dbQueryTimeoutMs: millis(env, 'DB_QUERY_TIMEOUT_MS', service === 'gateway' ? 1500 : 0),
    healthCheckTimeoutMs: millis(env, 'HEALTH_CHECK_TIMEOUT_MS', 800),
    sseIdleRefreshMs: millis(env, 'SSE_IDLE_REFRESH_MS', 5000),
  };
}
