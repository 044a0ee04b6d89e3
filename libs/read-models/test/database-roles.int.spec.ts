import { randomBytes } from 'node:crypto';
import { Client } from 'pg';
import { GATEWAY_WRITABLE_TABLES, gatewayDatabaseUrl, runMigrations } from '@runforge/read-models';

const DATABASE_URL = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

/** The projection's tables: the gateway reads them and may not change a row. */
const PROJECTION_TABLES = ['runs', 'trials', 'run_logs', 'projection_checkpoints'];
const UPDATED_COLUMN: Record<string, string> = {
  runs: 'updated_at',
  trials: 'occurred_at',
  run_logs: 'occurred_at',
  projection_checkpoints: 'updated_at',
};

/** Runs `sql`, answering the Postgres error code it failed with ('ok' when it did not fail). */
async function outcome(db: Client, sql: string, params: unknown[] = []): Promise<string> {
  try {
    await db.query(sql, params);
    return 'ok';
  } catch (err) {
    return (err as { code?: string }).code ?? String(err);
  }
}

describe("the gateway's Postgres role", () => {
  const schema = `rf_t${randomBytes(5).toString('hex')}`;
  const owner = new Client({ connectionString: DATABASE_URL });
  const gateway = new Client({ connectionString: gatewayDatabaseUrl({}, DATABASE_URL) });

  beforeAll(async () => {
    await runMigrations({ databaseUrl: DATABASE_URL, dbSchema: schema });
    await owner.connect();
    await gateway.connect();
  });

  afterAll(async () => {
    await gateway.end();
    await owner.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
    await owner.end();
  });

  it.each(PROJECTION_TABLES)('gets "permission denied" (42501) changing %s, which the owner may', async (table) => {
    const t = `"${schema}"."${table}"`;
    // Statements that touch no row, so the owner's run changes nothing: only the privilege differs.
    const writes = [
      `INSERT INTO ${t} SELECT * FROM ${t} WHERE false`,
      `UPDATE ${t} SET ${UPDATED_COLUMN[table]} = ${UPDATED_COLUMN[table]} WHERE false`,
      `DELETE FROM ${t} WHERE false`,
      `TRUNCATE ${t}`,
    ];
    for (const sql of writes) {
      expect({ sql, gateway: await outcome(gateway, sql) }).toEqual({ sql, gateway: '42501' });
      expect({ sql, owner: await outcome(owner, sql) }).toEqual({ sql, owner: 'ok' });
    }
    expect(await outcome(gateway, `SELECT count(*) FROM ${t}`)).toBe('ok');
  });

  it('writes its own tables: API keys, schedules and their fires', async () => {
    expect([...GATEWAY_WRITABLE_TABLES].sort()).toEqual(['api_keys', 'schedule_fires', 'schedules']);
    const s = `"${schema}"`;
    const now = new Date().toISOString();
    await gateway.query(
      `INSERT INTO ${s}.api_keys (id, name, role, secret_hash, secret_prefix, created_at) VALUES ('k1', 'ci', 'viewer', 'h', 'rf_x', $1)`,
      [now],
    );
    await gateway.query(`UPDATE ${s}.api_keys SET revoked_at = $1 WHERE id = 'k1'`, [now]);
    await gateway.query(
      `INSERT INTO ${s}.schedules (id, name, cron, timezone, overlap_policy, template, evaluated_until, created_at, updated_at)
       VALUES ('s1', 'nightly', '0 1 * * *', 'UTC', 'skip', '{}', $1, $1, $1)`,
      [now],
    );
    const fire = await gateway.query<{ id: string }>(
      `INSERT INTO ${s}.schedule_fires (schedule_id, fire_time, triggered_by, outcome, decided_at, decided_by)
       VALUES ('s1', $1, 'manual', 'started', $1, 'gateway') RETURNING id`,
      [now],
    );
    await gateway.query(`UPDATE ${s}.schedule_fires SET reason = 'r' WHERE id = $1`, [fire.rows[0]?.id]);
    await gateway.query(`DELETE FROM ${s}.schedule_fires WHERE schedule_id = 's1'`);
    await gateway.query(`DELETE FROM ${s}.schedules WHERE id = 's1'`);
    await gateway.query(`DELETE FROM ${s}.api_keys WHERE id = 'k1'`);
    const left = await owner.query<{ n: string }>(
      `SELECT (SELECT count(*) FROM ${s}.api_keys) + (SELECT count(*) FROM ${s}.schedules) AS n`,
    );
    expect(Number(left.rows[0]?.n)).toBe(0);
  });
});
