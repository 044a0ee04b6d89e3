import type { MigrationInterface, QueryRunner } from 'typeorm';

/** How many log lines a run recorded (see `RunView`), for listings. Older rows read 0 until `npm run rebuild`. */
export class RunLogCount1765300000000 implements MigrationInterface {
  name = 'RunLogCount1765300000000';

  async up(q: QueryRunner): Promise<void> {
    const s = `"${(q.connection.options as { schema?: string }).schema ?? 'public'}"`;
    await q.query(`ALTER TABLE ${s}.runs ADD COLUMN log_count integer NOT NULL DEFAULT 0`);
  }

  async down(q: QueryRunner): Promise<void> {
    const s = `"${(q.connection.options as { schema?: string }).schema ?? 'public'}"`;
    await q.query(`ALTER TABLE ${s}.runs DROP COLUMN log_count`);
  }
}
