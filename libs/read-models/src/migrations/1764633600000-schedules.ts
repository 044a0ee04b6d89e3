import type { MigrationInterface, QueryRunner } from 'typeorm';

/** Schedules and their decided fires (see docs/scheduler.md). */
export class Schedules1764633600000 implements MigrationInterface {
  name = 'Schedules1764633600000';

  async up(q: QueryRunner): Promise<void> {
    const s = `"${(q.connection.options as { schema?: string }).schema ?? 'public'}"`;
    await q.query(`
      CREATE TABLE ${s}.schedules (
        id text PRIMARY KEY,
        name text NOT NULL,
        cron text NOT NULL,
        timezone text NOT NULL,
        overlap_policy text NOT NULL,
        max_runs_count integer,
        max_runs_window text,
        catchup_window_seconds integer NOT NULL DEFAULT 0,
        template jsonb NOT NULL,
        paused boolean NOT NULL DEFAULT false,
        evaluated_until timestamptz NOT NULL,
        created_at timestamptz NOT NULL,
        updated_at timestamptz NOT NULL
      )`);
    await q.query(`CREATE UNIQUE INDEX schedules_name_key ON ${s}.schedules (name)`);
    await q.query(`
      CREATE TABLE ${s}.schedule_fires (
        id bigserial PRIMARY KEY,
        schedule_id text NOT NULL REFERENCES ${s}.schedules (id) ON DELETE CASCADE,
        fire_time timestamptz NOT NULL,
        triggered_by text NOT NULL,
        outcome text NOT NULL,
        reason text,
        run_id text,
        decided_at timestamptz NOT NULL,
        decided_by text NOT NULL
      )`);
    // The claim: one decision per scheduled fire, whichever replica inserts first.
    await q.query(
      `CREATE UNIQUE INDEX schedule_fires_claim_key ON ${s}.schedule_fires (schedule_id, fire_time) WHERE triggered_by = 'schedule'`,
    );
    await q.query(`CREATE INDEX schedule_fires_schedule_idx ON ${s}.schedule_fires (schedule_id, fire_time DESC)`);
  }

  async down(q: QueryRunner): Promise<void> {
    const s = `"${(q.connection.options as { schema?: string }).schema ?? 'public'}"`;
    await q.query(`DROP TABLE ${s}.schedule_fires`);
    await q.query(`DROP TABLE ${s}.schedules`);
  }
}
