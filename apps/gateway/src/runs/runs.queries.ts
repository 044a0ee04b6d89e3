import { Inject, Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { evolveRun, LOG_LEVELS, type LogLevel, type RunView } from '@runforge/contracts';
import { Messaging, RUNFORGE_CONFIG, type RunForgeConfig } from '@runforge/service';
import { DataSource } from 'typeorm';
import { isRunId } from '../common/validation';
import { OptimizationProgress, type OptimizationRunState } from '../optimizations/optimization-progress.service';
import { encodeCursor } from './cursor';
import type { RunListQuery } from './list-runs/list-runs.query';

type Row = Record<string, unknown>;

/** One line of a run's log, as served by the API. */
export interface RunLogLine {
  seq: number;
  level: string;
  message: string;
  context: Record<string, unknown> | null;
  attempt: number;
  occurredAt: string;
}

export interface Page<T> {
  items: T[];
  nextCursor: string | null;
}

const iso = (v: unknown): string | null => (v instanceof Date ? v.toISOString() : typeof v === 'string' ? v : null);
const num = (v: unknown): number => Number(v);

/** The list view of a run: everything but the heavy fields (request, result, stack trace). */
function summary(r: Row): Record<string, unknown> {
  return {
    id: r.id,
    kind: r.kind,
    status: r.status,
    strategy: r.strategy,
    params: r.params,
    totalBars: num(r.total_bars),
    processedBars: num(r.processed_bars),
    totalCombinations: r.total_combinations,
    completedCombinations: r.completed_combinations,
    failedCombinations: r.failed_combinations,
    attempt: r.attempt,
    triggeredBy: r.triggered_by,
    scheduleId: r.schedule_id,
    retryOf: r.retry_of,
    failureReason: r.failure_reason,
    errorMessage: r.error_message,
    requestedAt: iso(r.requested_at),
    startedAt: iso(r.started_at),
    completedAt: iso(r.completed_at),
    updatedAt: iso(r.updated_at),
    traceId: r.trace_id,
  };
}

function details(r: Row): Record<string, unknown> {
  return {
    ...summary(r),
    request: r.request,
    dataset: r.dataset,
    priority: r.priority,
    workerId: r.worker_id,
    errorStackTrace: r.error_stack_trace,
    errorCode: r.error_code,
    result: r.result,
    cancelRequestedAt: iso(r.cancel_requested_at),
    lastProgressAt: iso(r.last_progress_at),
    longestProgressGapMs: num(r.longest_progress_gap_ms),
    lastSeq: num(r.last_seq),
  };
}

/** The fields of a details view that an optimization's progress is computed from. */
function optimizationState(run: Record<string, unknown>): OptimizationRunState {
  return {
    id: run.id as string,
    status: run.status as OptimizationRunState['status'],
    totalCombinations: run.totalCombinations as number | null,
    completedCombinations: run.completedCombinations as number,
    failedCombinations: run.failedCombinations as number,
    startedAt: run.startedAt as string | null,
    lastProgressAt: run.lastProgressAt as string | null,
    longestProgressGapMs: run.longestProgressGapMs as number,
    result: run.result as Record<string, unknown> | null,
    request: run.request as Record<string, unknown>,
  };
}

/** A run folded from its `RunRequested` alone, in the same shape as a projected row. */
function viewToRow(v: RunView): Row {
  return {
    id: v.id,
    kind: v.kind,
    status: v.status,
    strategy: v.strategy,
    params: v.params,
    request: v.request,
    dataset: v.dataset,
    total_bars: v.totalBars,
    processed_bars: v.processedBars,
    total_combinations: v.totalCombinations,
    completed_combinations: v.completedCombinations,
    failed_combinations: v.failedCombinations,
    attempt: v.attempt,
    worker_id: v.workerId,
    priority: v.priority,
    triggered_by: v.triggeredBy,
    schedule_id: v.scheduleId,
    retry_of: v.retryOf,
    trace_id: v.traceId,
    error_message: v.errorMessage,
    error_stack_trace: v.errorStackTrace,
    error_code: v.errorCode,
    failure_reason: v.failureReason,
    result: v.result,
    requested_at: new Date(v.requestedAt),
    started_at: null,
    completed_at: null,
    cancel_requested_at: null,
    last_progress_at: null,
    longest_progress_gap_ms: 0,
    updated_at: new Date(v.updatedAt),
    last_seq: v.lastSeq,
  };
}

/** Log levels at or above `min` (a `level` filter means "this level and more severe"). */
export function levelsFrom(min: LogLevel): LogLevel[] {
  return LOG_LEVELS.slice(LOG_LEVELS.indexOf(min));
}

function logLine(r: Row): RunLogLine {
  return {
    seq: num(r.seq),
    level: r.level as string,
    message: r.message as string,
    context: (r.context as Record<string, unknown> | null) ?? null,
    attempt: r.attempt as number,
    occurredAt: iso(r.occurred_at) ?? '',
  };
}

/**
 * Read-side queries over the run read models (kind-agnostic). Listing uses keyset pagination on
 * `(requested_at, id)`, so runs arriving while a client pages never shift or repeat a page.
 */
@Injectable()
export class RunsQueries {
  private readonly s: string;

  constructor(
    @InjectDataSource() private readonly db: DataSource,
    private readonly messaging: Messaging,
    private readonly progress: OptimizationProgress,
    @Inject(RUNFORGE_CONFIG) cfg: RunForgeConfig,
  ) {
    this.s = `"${cfg.dbSchema}"`;
  }

  async list(q: RunListQuery): Promise<Page<Record<string, unknown>>> {
    const where: string[] = [];
    const params: unknown[] = [];
    const p = (v: unknown): string => {
      params.push(v);
      return `$${params.length}`;
    };
    if (q.kind) where.push(`kind = ANY(${p(q.kind)}::text[])`);
    if (q.status) where.push(`status = ANY(${p(q.status)}::text[])`);
    if (q.triggeredBy) where.push(`triggered_by = ANY(${p(q.triggeredBy)}::text[])`);
    if (q.reason) where.push(`failure_reason = ANY(${p(q.reason)}::text[])`);
    if (q.strategy) where.push(`strategy = ANY(${p(q.strategy)}::text[])`);
    if (q.scheduleId) where.push(`schedule_id = ${p(q.scheduleId)}`);
    if (q.from) where.push(`requested_at >= ${p(q.from)}::timestamptz`);
    if (q.to) where.push(`requested_at < ${p(q.to)}::timestamptz`);
    if (q.cursor) where.push(`(requested_at, id) < (${p(q.cursor.requestedAt)}::timestamptz, ${p(q.cursor.id)})`);
    const rows: Row[] = await this.db.query(
      `SELECT id, kind, status, strategy, params, total_bars, processed_bars, total_combinations,
              completed_combinations, failed_combinations, attempt, triggered_by, schedule_id, retry_of,
              failure_reason, error_message, requested_at, started_at, completed_at, updated_at, trace_id,
              to_char(requested_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS cursor_at
         FROM ${this.s}.runs
        ${where.length ? `WHERE ${where.join(' AND ')}` : ''}
        ORDER BY requested_at DESC, id DESC
        LIMIT ${p(q.limit + 1)}`,
      params,
    );
    const more = rows.length > q.limit;
    const page = more ? rows.slice(0, q.limit) : rows;
    const last = page[page.length - 1];
    return {
      items: page.map(summary),
      nextCursor: more && last ? encodeCursor([last.cursor_at as string, last.id as string]) : null,
    };
  }

  /**
   * A run with its latest logs. A run accepted a moment ago but not projected yet is folded from its
   * `RunRequested` on the stream (read-your-writes), so it answers `Pending` rather than 404.
   */
  async details(id: string, logLimit = 100): Promise<Record<string, unknown> | undefined> {
    if (!isRunId(id)) return undefined;
    const rows: Row[] = await this.db.query(`SELECT * FROM ${this.s}.runs WHERE id = $1`, [id]);
    let row = rows[0];
    if (!row) {
      const stored = await this.messaging.reader.lastOfType(id, 'RunRequested');
      if (!stored) return undefined;
      const traceId = stored.traceparent?.split('-')[1];
      const view = evolveRun(undefined, stored.event, { seq: stored.seq, traceId });
      if (!view) return undefined;
      row = viewToRow(view);
    }
    const logs: Row[] = await this.db.query(
      `SELECT * FROM (SELECT seq, level, message, context, attempt, occurred_at FROM ${this.s}.run_logs
         WHERE run_id = $1 ORDER BY seq DESC LIMIT $2) l ORDER BY seq ASC`,
      [id, logLimit],
    );
    const run = details(row);
    if (run.kind === 'optimization') Object.assign(run, await this.progress.of(optimizationState(run)));
    return { ...run, logs: logs.map(logLine) };
  }

  /** Whether the run exists (projected, or accepted and still on its way to the read model). */
  async exists(id: string): Promise<boolean> {
    if (!isRunId(id)) return false;
    const rows: Row[] = await this.db.query(`SELECT 1 FROM ${this.s}.runs WHERE id = $1`, [id]);
    if (rows.length > 0) return true;
    return (await this.messaging.reader.lastOfType(id, 'RunRequested')) !== undefined;
  }

  /** A run's log lines in stream order, from `afterSeq` on, at `minLevel` or above. */
  async logs(id: string, opts: { minLevel?: LogLevel; limit: number; afterSeq?: number }): Promise<Page<RunLogLine>> {
    const params: unknown[] = [id];
    let where = 'run_id = $1';
    if (opts.minLevel && opts.minLevel !== 'DEBUG') {
      params.push(levelsFrom(opts.minLevel));
      where += ` AND level = ANY($${params.length}::text[])`;
    }
    if (opts.afterSeq !== undefined) {
      params.push(opts.afterSeq);
      where += ` AND seq > $${params.length}`;
    }
    params.push(opts.limit + 1);
    const rows: Row[] = await this.db.query(
      `SELECT seq, level, message, context, attempt, occurred_at FROM ${this.s}.run_logs
        WHERE ${where} ORDER BY seq ASC LIMIT $${params.length}`,
      params,
    );
    const more = rows.length > opts.limit;
    const items = (more ? rows.slice(0, opts.limit) : rows).map(logLine);
    const last = items[items.length - 1];
    return { items, nextCursor: more && last ? encodeCursor([last.seq]) : null };
  }
}
