import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * When a run last made progress and the longest wait between two such moments (see `RunView`), so
 * a stall is judged from the run's row instead of a scan of its trials. Rows projected before this
 * migration get them from `npm run rebuild` (until then they read as no progress yet).
 */
export class RunProgressPace1765000000000 implements MigrationInterface {
  name = 'RunProgressPace1765000000000';

  async up(q: QueryRunner): Promise<void> {
    const s = `"${(q.connection.options as { schema?: string }).schema ?? 'public'}"`;
    await q.query(`ALTER TABLE ${s}.runs ADD COLUMN last_progress_at timestamptz`);
    await q.query(`ALTER TABLE ${s}.runs ADD COLUMN longest_progress_gap_ms bigint NOT NULL DEFAULT 0`);
  }

  async down(q: QueryRunner): Promise<void> {
    const s = `"${(q.connection.options as { schema?: string }).schema ?? 'public'}"`;
    await q.query(`ALTER TABLE ${s}.runs DROP COLUMN longest_progress_gap_ms`);
    await q.query(`ALTER TABLE ${s}.runs DROP COLUMN last_progress_at`);
  }
}
