import { Column, Entity, Index, PrimaryColumn } from 'typeorm';
import type { RunKind, RunStatus, TriggeredBy } from '@runforge/contracts';

/** bigint columns come back as strings from pg; stream sequences and counters fit in a double. */
const bigintAsNumber = {
  to: (v: number | null | undefined) => v,
  from: (v: string | null) => (v === null ? null : Number(v)),
};

@Entity({ name: 'runs' })
@Index('runs_requested_at_id_idx', ['requestedAt', 'id'])
@Index('runs_status_idx', ['status', 'requestedAt'])
@Index('runs_kind_idx', ['kind', 'requestedAt'])
@Index('runs_strategy_idx', ['strategy', 'requestedAt'])
@Index('runs_schedule_idx', ['scheduleId', 'requestedAt'])
export class RunRow {
  @PrimaryColumn({ type: 'text' }) id!: string;
  @Column({ type: 'text' }) kind!: RunKind;
  @Column({ type: 'text' }) status!: RunStatus;
  @Column({ type: 'text' }) strategy!: string;
  @Column({ type: 'jsonb' }) params!: Record<string, unknown>;
  @Column({ type: 'jsonb' }) request!: Record<string, unknown>;
  @Column({ type: 'jsonb' }) dataset!: Record<string, unknown>;
  @Column({ name: 'total_bars', type: 'bigint', transformer: bigintAsNumber }) totalBars!: number;
  @Column({ name: 'processed_bars', type: 'bigint', transformer: bigintAsNumber }) processedBars!: number;
  @Column({ name: 'total_combinations', type: 'integer', nullable: true }) totalCombinations!: number | null;
  @Column({ name: 'completed_combinations', type: 'integer', default: 0 }) completedCombinations!: number;
  @Column({ name: 'failed_combinations', type: 'integer', default: 0 }) failedCombinations!: number;
  @Column({ type: 'integer', default: 0 }) attempt!: number;
  @Column({ name: 'worker_id', type: 'text', nullable: true }) workerId!: string | null;
  @Column({ type: 'text', default: 'normal' }) priority!: string;
  @Column({ name: 'triggered_by', type: 'text' }) triggeredBy!: TriggeredBy;
  @Column({ name: 'schedule_id', type: 'text', nullable: true }) scheduleId!: string | null;
  @Column({ name: 'retry_of', type: 'text', nullable: true }) retryOf!: string | null;
  @Column({ name: 'trace_id', type: 'text', nullable: true }) traceId!: string | null;
  @Column({ name: 'error_message', type: 'text', nullable: true }) errorMessage!: string | null;
  @Column({ name: 'error_stack_trace', type: 'text', nullable: true }) errorStackTrace!: string | null;
  @Column({ name: 'error_code', type: 'text', nullable: true }) errorCode!: string | null;
  @Column({ name: 'failure_reason', type: 'text', nullable: true }) failureReason!: string | null;
  @Column({ type: 'jsonb', nullable: true }) result!: Record<string, unknown> | null;
  @Column({ name: 'requested_at', type: 'timestamptz' }) requestedAt!: Date;
  @Column({ name: 'started_at', type: 'timestamptz', nullable: true }) startedAt!: Date | null;
  @Column({ name: 'completed_at', type: 'timestamptz', nullable: true }) completedAt!: Date | null;
  @Column({ name: 'cancel_requested_at', type: 'timestamptz', nullable: true }) cancelRequestedAt!: Date | null;
  @Column({ name: 'last_progress_at', type: 'timestamptz', nullable: true }) lastProgressAt!: Date | null;
  @Column({ name: 'longest_progress_gap_ms', type: 'bigint', default: 0, transformer: bigintAsNumber })
  longestProgressGapMs!: number;
  @Column({ name: 'updated_at', type: 'timestamptz' }) updatedAt!: Date;
  /** Stream sequence of the last event applied to this row. */
  @Column({ name: 'last_seq', type: 'bigint', transformer: bigintAsNumber }) lastSeq!: number;
}

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
