import { Column, Entity, EntitySchema, Index, PrimaryColumn, type EntitySchemaColumnOptions } from 'typeorm';
import { RUN_FIELD_NAMES, RUN_FIELDS, runColumnOf, type RunRecord, type StoredAs } from '@runforge/contracts';

/** bigint columns come back as strings from pg; stream sequences and counters fit in a double. */
const bigintAsNumber = {
  to: (v: number | null | undefined) => v,
  from: (v: string | null) => (v === null ? null : Number(v)),
};

/** TypeORM's column type for each way `RUN_FIELDS` stores a field. */
const RUN_COLUMN_OPTIONS: Record<StoredAs, EntitySchemaColumnOptions> = {
  text: { type: 'text' },
  jsonb: { type: 'jsonb' },
  json: { type: 'json' },
  integer: { type: 'integer' },
  bigint: { type: 'bigint', transformer: bigintAsNumber },
  timestamptz: { type: 'timestamptz' },
};

/**
 * The `runs` table, one column a field of `RUN_FIELDS` (`@runforge/contracts`). The table itself is
 * made by the migrations; this mapping lets repositories read it (timestamps as `Date`s).
 */
export const RunRow = new EntitySchema<RunRecord>({
  name: 'RunRow',
  tableName: 'runs',
  columns: Object.fromEntries(
    RUN_FIELD_NAMES.map((name) => [
      name,
      {
        ...RUN_COLUMN_OPTIONS[RUN_FIELDS[name].stored],
        name: runColumnOf(name),
        nullable: RUN_FIELDS[name].nullable,
        primary: name === 'id',
      },
    ]),
  ),
  indices: [
    { name: 'runs_requested_at_id_idx', columns: ['requestedAt', 'id'] },
    { name: 'runs_status_idx', columns: ['status', 'requestedAt'] },
    { name: 'runs_kind_idx', columns: ['kind', 'requestedAt'] },
    { name: 'runs_strategy_idx', columns: ['strategy', 'requestedAt'] },
    { name: 'runs_schedule_idx', columns: ['scheduleId', 'requestedAt'] },
  ],
});
export type RunRow = RunRecord;

@Entity({ name: 'trials' })
@Index('trials_run_idx', ['runId', 'index'])
@Index('trials_run_status_idx', ['runId', 'status'])
export class TrialRow {
  @PrimaryColumn({ type: 'text' }) id!: string;
  @Column({ name: 'run_id', type: 'text' }) runId!: string;
  @Column({ type: 'integer' }) index!: number;
  @Column({ type: 'text' }) status!: 'Completed' | 'Failed';
  @Column({ type: 'jsonb' }) params!: Record<string, unknown>;
  @Column({ type: 'jsonb', nullable: true }) metrics!: Record<string, number> | null;
  @Column({ type: 'double precision', nullable: true }) score!: number | null;
  @Column({ name: 'error_message', type: 'text', nullable: true }) errorMessage!: string | null;
  @Column({ name: 'error_stack_trace', type: 'text', nullable: true }) errorStackTrace!: string | null;
  @Column({ type: 'text', nullable: true }) fingerprint!: string | null;
  @Column({ name: 'duration_ms', type: 'double precision' }) durationMs!: number;
  @Column({ name: 'worker_id', type: 'text' }) workerId!: string;
  @Column({ type: 'integer' }) attempt!: number;
  @Column({ type: 'bigint', transformer: bigintAsNumber }) seq!: number;
  @Column({ name: 'occurred_at', type: 'timestamptz' }) occurredAt!: Date;
}

@Entity({ name: 'run_logs' })
@Index('run_logs_run_idx', ['runId', 'seq'])
export class RunLogRow {
  /** The stream sequence of the `RunLogged` event: unique, ordered, and idempotent on redelivery. */
  @PrimaryColumn({ type: 'bigint', transformer: bigintAsNumber }) seq!: number;
  @Column({ name: 'run_id', type: 'text' }) runId!: string;
  @Column({ type: 'text' }) level!: string;
  @Column({ type: 'text' }) message!: string;
  @Column({ type: 'jsonb', nullable: true }) context!: Record<string, unknown> | null;
  @Column({ type: 'integer' }) attempt!: number;
  @Column({ name: 'occurred_at', type: 'timestamptz' }) occurredAt!: Date;
}

@Entity({ name: 'projection_checkpoints' })
export class CheckpointRow {
  @PrimaryColumn({ type: 'text' }) name!: string;
  @Column({ name: 'last_seq', type: 'bigint', transformer: bigintAsNumber }) lastSeq!: number;
  @Column({ name: 'updated_at', type: 'timestamptz' }) updatedAt!: Date;
}

export const READ_MODEL_ENTITIES = [RunRow, TrialRow, RunLogRow, CheckpointRow];
