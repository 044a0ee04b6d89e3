import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * A run's result as `json` (its text), not `jsonb`: a backtest's result carries its equity curve
 * (~1,000 points, ~48 KB), which jsonb parsed into its binary form on every write and printed back on
 * every status read — about 1 ms of Postgres CPU per short job in bench:throughput. Nothing queries
 * into a result; it is stored and answered whole.
 */
export class RunResultJson1765500000000 implements MigrationInterface {
  name = 'RunResultJson1765500000000';

  async up(q: QueryRunner): Promise<void> {
    const s = `"${(q.connection.options as { schema?: string }).schema ?? 'public'}"`;
    await q.query(`ALTER TABLE ${s}.runs ALTER COLUMN result TYPE json USING result::json`);
  }

  async down(q: QueryRunner): Promise<void> {
    const s = `"${(q.connection.options as { schema?: string }).schema ?? 'public'}"`;
    await q.query(`ALTER TABLE ${s}.runs ALTER COLUMN result TYPE jsonb USING result::jsonb`);
  }
}
