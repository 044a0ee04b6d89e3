import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Every kind's progress as a percent and its duration (see `RunView`), so listings and status
 * answers show them whatever the kind counts. Rows projected before this migration read 0 and null
 * until `npm run rebuild`.
 */
export class RunProgressPercent1765100000000 implements MigrationInterface {
  name = 'RunProgressPercent1765100000000';

  async up(q: QueryRunner): Promise<void> {
    const s = `"${(q.connection.options as { schema?: string }).schema ?? 'public'}"`;
    await q.query(`ALTER TABLE ${s}.runs ADD COLUMN progress integer NOT NULL DEFAULT 0`);
    await q.query(`ALTER TABLE ${s}.runs ADD COLUMN duration_ms bigint`);
  }

  async down(q: QueryRunner): Promise<void> {
    const s = `"${(q.connection.options as { schema?: string }).schema ?? 'public'}"`;
    await q.query(`ALTER TABLE ${s}.runs DROP COLUMN duration_ms`);
    await q.query(`ALTER TABLE ${s}.runs DROP COLUMN progress`);
  }
}
