import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Indexes for `GET /api/runs` (keyset on `requested_at desc, id desc` under each filter) and for
 * `GET /api/runs/{id}/logs?level=`. The filter indexes gain `id` so a page boundary inside one
 * timestamp is still an index range; the replaced ones are dropped so the projection's upserts
 * maintain no more indexes than before.
 */
export class RunListingIndexes1764100000000 implements MigrationInterface {
  name = 'RunListingIndexes1764100000000';

  async up(q: QueryRunner): Promise<void> {
    const s = `"${(q.connection.options as { schema?: string }).schema ?? 'public'}"`;
    for (const [name, col] of [
      ['runs_status_idx', 'status'],
      ['runs_kind_idx', 'kind'],
      ['runs_strategy_idx', 'strategy'],
      ['runs_schedule_idx', 'schedule_id'],
    ] as const) {
      await q.query(`DROP INDEX IF EXISTS ${s}.${name}`);
      await q.query(
        `CREATE INDEX ${name.replace(/_idx$/, '_page_idx')} ON ${s}.runs (${col}, requested_at DESC, id DESC)`,
      );
    }
    await q.query(
      `CREATE INDEX runs_failure_reason_page_idx ON ${s}.runs (failure_reason, requested_at DESC, id DESC) WHERE failure_reason IS NOT NULL`,
    );
    await q.query(`CREATE INDEX run_logs_run_level_idx ON ${s}.run_logs (run_id, level, seq)`);
  }

  async down(q: QueryRunner): Promise<void> {
    const s = `"${(q.connection.options as { schema?: string }).schema ?? 'public'}"`;
    await q.query(`DROP INDEX IF EXISTS ${s}.run_logs_run_level_idx`);
    await q.query(`DROP INDEX IF EXISTS ${s}.runs_failure_reason_page_idx`);
    for (const [name, col] of [
      ['runs_status_idx', 'status'],
      ['runs_kind_idx', 'kind'],
      ['runs_strategy_idx', 'strategy'],
      ['runs_schedule_idx', 'schedule_id'],
    ] as const) {
      await q.query(`DROP INDEX IF EXISTS ${s}.${name.replace(/_idx$/, '_page_idx')}`);
      await q.query(`CREATE INDEX ${name} ON ${s}.runs (${col}, requested_at DESC)`);
    }
  }
}
