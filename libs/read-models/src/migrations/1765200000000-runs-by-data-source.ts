import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * `GET /api/runs?dataSourceId=` (an energy data source's latest runs, the dashboard's Energy page):
 * keyset order under the request's `data_source_id`. Partial, so backtests and optimizations add
 * nothing to it.
 */
export class RunsByDataSource1765200000000 implements MigrationInterface {
  name = 'RunsByDataSource1765200000000';

  async up(q: QueryRunner): Promise<void> {
    const s = `"${(q.connection.options as { schema?: string }).schema ?? 'public'}"`;
    await q.query(
      `CREATE INDEX runs_data_source_page_idx ON ${s}.runs ((dataset->>'data_source_id'), requested_at DESC, id DESC) WHERE dataset ? 'data_source_id'`,
    );
  }

  async down(q: QueryRunner): Promise<void> {
    const s = `"${(q.connection.options as { schema?: string }).schema ?? 'public'}"`;
    await q.query(`DROP INDEX IF EXISTS ${s}.runs_data_source_page_idx`);
  }
}
