/**
 * The gateway's own Postgres role: it reads every read model but writes only what it owns (API
 * keys, schedules and their fires); the projection's tables (runs, trials, logs, the checkpoint)
 * are the projection's alone. The migrate step creates the role and grants it per schema.
 */
export const DEFAULT_GATEWAY_DB_ROLE = 'runforge_gateway';

/** The tables the gateway writes; every other table of the schema it may only read. */
export const GATEWAY_WRITABLE_TABLES = ['api_keys', 'schedules', 'schedule_fires'] as const;

const ROLE_RE = /^[a-z_][a-z0-9_]{0,62}$/;

/**
 * The gateway's connection URL: `GATEWAY_DATABASE_URL`, or `DATABASE_URL` with the gateway's role
 * as its user (no password: set GATEWAY_DATABASE_URL where the server asks for one).
 */
export function gatewayDatabaseUrl(env: NodeJS.ProcessEnv, databaseUrl: string): string {
  if (env.GATEWAY_DATABASE_URL) return env.GATEWAY_DATABASE_URL;
  const u = new URL(databaseUrl);
  u.username = DEFAULT_GATEWAY_DB_ROLE;
  u.password = '';
  return u.toString();
}

const literal = (s: string): string => `'${s.replace(/'/g, "''")}'`;

/**
 * Creates the gateway's role if missing (its password from the URL, when it has one) and grants it
 * the schema: read everything, write only `GATEWAY_WRITABLE_TABLES`. Nothing to do when the URL's
 * user is the one migrating (a deployment that opted out with GATEWAY_DATABASE_URL=$DATABASE_URL).
 */
export async function grantGatewayRole(
  db: { query: (sql: string) => Promise<unknown> },
  schema: string,
  gatewayUrl: string,
  ownerUrl: string,
): Promise<void> {
  const gateway = new URL(gatewayUrl);
  const role = decodeURIComponent(gateway.username);
  if (!role || role === decodeURIComponent(new URL(ownerUrl).username)) return;
  if (!ROLE_RE.test(role)) throw new Error(`the gateway's database role must match ${ROLE_RE.source}, got "${role}"`);
  const password = gateway.password ? ` PASSWORD ${literal(decodeURIComponent(gateway.password))}` : '';
  // Roles are cluster-wide: another schema's migration may have made it (or be making it) already.
  await db.query(
    `DO $$ BEGIN
       IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = ${literal(role)}) THEN CREATE ROLE "${role}" LOGIN${password}; END IF;
     EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL;
     END $$`,
  );
  if (password) await db.query(`ALTER ROLE "${role}" LOGIN${password}`);
  const s = `"${schema}"`;
  await db.query(`GRANT USAGE ON SCHEMA ${s} TO "${role}"`);
  await db.query(`REVOKE INSERT, UPDATE, DELETE, TRUNCATE ON ALL TABLES IN SCHEMA ${s} FROM "${role}"`);
  await db.query(`GRANT SELECT ON ALL TABLES IN SCHEMA ${s} TO "${role}"`);
  const own = GATEWAY_WRITABLE_TABLES.map((t) => `${s}."${t}"`).join(', ');
  await db.query(`GRANT INSERT, UPDATE, DELETE ON ${own} TO "${role}"`);
  await db.query(`GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA ${s} TO "${role}"`);
}
