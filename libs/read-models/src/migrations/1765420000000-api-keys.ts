import type { MigrationInterface, QueryRunner } from 'typeorm';

/** The gateway's API keys (hashed secrets; see docs/security.md). */
export class ApiKeys1765420000000 implements MigrationInterface {
  name = 'ApiKeys1765420000000';

  async up(q: QueryRunner): Promise<void> {
    const s = `"${(q.connection.options as { schema?: string }).schema ?? 'public'}"`;
    await q.query(`
      CREATE TABLE ${s}.api_keys (
        id text PRIMARY KEY,
        name text NOT NULL,
        role text NOT NULL CHECK (role IN ('viewer', 'operator', 'admin')),
        secret_hash text NOT NULL,
        secret_prefix text NOT NULL,
        created_at timestamptz NOT NULL,
        created_by jsonb,
        expires_at timestamptz,
        revoked_at timestamptz,
        revoked_by jsonb,
        last_used_at timestamptz
      )`);
    await q.query(`CREATE UNIQUE INDEX api_keys_hash_key ON ${s}.api_keys (secret_hash)`);
  }

  async down(q: QueryRunner): Promise<void> {
    const s = `"${(q.connection.options as { schema?: string }).schema ?? 'public'}"`;
    await q.query(`DROP TABLE ${s}.api_keys`);
  }
}
