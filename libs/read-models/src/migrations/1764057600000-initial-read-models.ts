import type { MigrationInterface, QueryRunner } from 'typeorm';

/** Read models for runs, trials, run logs and the projection checkpoint (see docs/read-models.md). */
export class InitialReadModels1764057600000 implements MigrationInterface {
  name = 'InitialReadModels1764057600000';

  async up(q: QueryRunner): Promise<void> {
    const s = `"${(q.connection.options as { schema?: string }).schema ?? 'public'}"`;
    await q.query(`
      CREATE TABLE ${s}.runs (
        id text PRIMARY KEY,
        kind text NOT NULL,
        status text NOT NULL,
        strategy text NOT NULL,
        params jsonb NOT NULL,
        request jsonb NOT NULL,
        dataset jsonb NOT NULL,
        total_bars bigint NOT NULL,
        processed_bars bigint NOT NULL DEFAULT 0,
        total_combinations integer,
        completed_combinations integer NOT NULL DEFAULT 0,
        failed_combinations integer NOT NULL DEFAULT 0,
        attempt integer NOT NULL DEFAULT 0,
        worker_id text,
        priority text NOT NULL DEFAULT 'normal',
        triggered_by text NOT NULL,
        schedule_id text,
        retry_of text,
        trace_id text,
        error_message text,
        error_stack_trace text,
        error_code text,
        failure_reason text,
        result jsonb,
        requested_at timestamptz NOT NULL,
        started_at timestamptz,
        completed_at timestamptz,
        cancel_requested_at timestamptz,
        updated_at timestamptz NOT NULL,
        last_seq bigint NOT NULL
      )`);
    await q.query(`CREATE INDEX runs_requested_at_id_idx ON ${s}.runs (requested_at DESC, id DESC)`);
    await q.query(`CREATE INDEX runs_status_idx ON ${s}.runs (status, requested_at DESC)`);
    await q.query(`CREATE INDEX runs_kind_idx ON ${s}.runs (kind, requested_at DESC)`);
    await q.query(`CREATE INDEX runs_strategy_idx ON ${s}.runs (strategy, requested_at DESC)`);
    await q.query(`CREATE INDEX runs_schedule_idx ON ${s}.runs (schedule_id, requested_at DESC)`);
    await q.query(`
      CREATE TABLE ${s}.trials (
        id text PRIMARY KEY,
        run_id text NOT NULL,
        index integer NOT NULL,
        status text NOT NULL,
        params jsonb NOT NULL,
        metrics jsonb,
        score double precision,
        error_message text,
        error_stack_trace text,
        fingerprint text,
        duration_ms double precision NOT NULL,
        worker_id text NOT NULL,
        attempt integer NOT NULL,
        seq bigint NOT NULL,
        occurred_at timestamptz NOT NULL
      )`);
    await q.query(`CREATE INDEX trials_run_idx ON ${s}.trials (run_id, index)`);
    await q.query(`CREATE INDEX trials_run_status_idx ON ${s}.trials (run_id, status)`);
    await q.query(`
      CREATE TABLE ${s}.run_logs (
        seq bigint PRIMARY KEY,
        run_id text NOT NULL,
        level text NOT NULL,
        message text NOT NULL,
        context jsonb,
        attempt integer NOT NULL,
        occurred_at timestamptz NOT NULL
      )`);
    await q.query(`CREATE INDEX run_logs_run_idx ON ${s}.run_logs (run_id, seq)`);
    await q.query(`
      CREATE TABLE ${s}.projection_checkpoints (
        name text PRIMARY KEY,
        last_seq bigint NOT NULL,
        updated_at timestamptz NOT NULL
      )`);
  }

  async down(q: QueryRunner): Promise<void> {
    const s = `"${(q.connection.options as { schema?: string }).schema ?? 'public'}"`;
    for (const t of ['projection_checkpoints', 'run_logs', 'trials', 'runs']) await q.query(`DROP TABLE ${s}.${t}`);
  }
}
