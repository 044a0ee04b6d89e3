import { Column, Entity, Index, PrimaryColumn, PrimaryGeneratedColumn } from 'typeorm';
import type { TriggeredBy } from '@runforge/contracts';

/**
 * A cadence that turns into `RunRequested` (see docs/scheduler.md). Written by the gateway (CRUD);
 * the scheduler only advances `evaluated_until`, its cursor over the cron's fire times.
 */
@Entity({ name: 'schedules' })
export class ScheduleRow {
  @PrimaryColumn({ type: 'text' }) id!: string;
  @Index('schedules_name_key', { unique: true })
  @Column({ type: 'text' })
  name!: string;
  @Column({ type: 'text' }) cron!: string;
  @Column({ type: 'text' }) timezone!: string;
  @Column({ name: 'overlap_policy', type: 'text' }) overlapPolicy!: 'skip' | 'allow' | 'cancel-previous';
  @Column({ name: 'max_runs_count', type: 'integer', nullable: true }) maxRunsCount!: number | null;
  @Column({ name: 'max_runs_window', type: 'text', nullable: true }) maxRunsWindow!: '1d' | null;
  @Column({ name: 'catchup_window_seconds', type: 'integer' }) catchupWindowSeconds!: number;
  /** The template as the client wrote it (`kind` + request fields); re-validated at every fire. */
  @Column({ type: 'jsonb' }) template!: Record<string, unknown>;
  @Column({ type: 'boolean' }) paused!: boolean;
  /** Every fire time up to this instant has been decided (started, skipped, limited or missed). */
  @Column({ name: 'evaluated_until', type: 'timestamptz' }) evaluatedUntil!: Date;
  @Column({ name: 'created_at', type: 'timestamptz' }) createdAt!: Date;
  @Column({ name: 'updated_at', type: 'timestamptz' }) updatedAt!: Date;
}

/**
 * One decided fire of a schedule — scheduled (unique per schedule and fire time: the claim that
 * makes replicas agree) or manual. Answers "why didn't it run at 10:00?".
 */
@Entity({ name: 'schedule_fires' })
@Index('schedule_fires_schedule_idx', ['scheduleId', 'fireTime'])
export class ScheduleFireRow {
  @PrimaryGeneratedColumn({ type: 'bigint' }) id!: string;
  @Column({ name: 'schedule_id', type: 'text' }) scheduleId!: string;
  @Column({ name: 'fire_time', type: 'timestamptz' }) fireTime!: Date;
  @Column({ name: 'triggered_by', type: 'text' }) triggeredBy!: Extract<TriggeredBy, 'schedule' | 'manual'>;
  @Column({ type: 'text' }) outcome!: 'started' | 'skipped' | 'limited' | 'missed';
  @Column({ type: 'text', nullable: true }) reason!: string | null;
  @Column({ name: 'run_id', type: 'text', nullable: true }) runId!: string | null;
  @Column({ name: 'decided_at', type: 'timestamptz' }) decidedAt!: Date;
  @Column({ name: 'decided_by', type: 'text' }) decidedBy!: string;
}

export const SCHEDULE_ENTITIES = [ScheduleRow, ScheduleFireRow];
