import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Who asked for each run (`RunRequested.principal`), and `GET /api/runs?principal=` in keyset order.
 * Runs recorded before principals were read null (a rebuild fills what their histories say).
 */
export class RunPrincipal1765420100000 implements MigrationInterface {
  name = 'RunPrincipal1765420100000';

  async up(q: QueryRunner): Promise<void> {
    const s = `"${(q.connection.options as { schema?: string }).schema ?? 'public'}"`;
    await q.query(`ALTER TABLE ${s}.runs ADD COLUMN principal jsonb`);
    await q.query(
      `CREATE INDEX runs_principal_page_idx ON ${s}.runs ((principal->>'id'), requested_at DESC, id DESC) WHERE principal IS NOT NULL`,
    );
  }

  async down(q: QueryRunner): Promise<void> {
    const s = `"${(q.connection.options as { schema?: string }).schema ?? 'public'}"`;
    await q.query(`DROP INDEX IF EXISTS ${s}.runs_principal_page_idx`);
    await q.query(`ALTER TABLE ${s}.runs DROP COLUMN principal`);
  }
}
