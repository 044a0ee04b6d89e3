import { Inject, Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import {
  LOG_LEVELS,
  pickRun,
  RUN_SUMMARY_FIELDS,
  runColumnOf,
  runFromColumns,
  type LogLevel,
  type Page,
  type RunDetails,
  type RunLogLine,
  type RunSummary,
} from '@runforge/contracts';
import { Messaging, RUNFORGE_CONFIG, type RunForgeConfig } from '@runforge/service';
import { DataSource } from 'typeorm';
import { isRunId } from '../common/validation';
import { OptimizationProgress } from '../optimizations/optimization-progress.service';
import { encodeCursor } from './cursor';
import type { RunListQuery } from './list-runs/list-runs.query';
import { RunReader } from './run-reader.service';

type Row = Record<string, unknown>;

const iso = (v: unknown): string | null => (v instanceof Date ? v.toISOString() : typeof v === 'string' ? v : null);
const num = (v: unknown): number => Number(v);

/** The columns of a list item, and the cursor's key. */
const SUMMARY_COLUMNS = `${RUN_SUMMARY_FIELDS.map(runColumnOf).join(', ')},
  to_char(requested_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS cursor_at`;

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
    private readonly reader: RunReader,
    private readonly progress: OptimizationProgress,
    @Inject(RUNFORGE_CONFIG) cfg: RunForgeConfig,
  ) {
    this.s = `"${cfg.dbSchema}"`;
  }

  async list(q: RunListQuery): Promise<Page<RunSummary>> {
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
    // Both clauses, so the planner can use the partial index runs_principal_page_idx.
    if (q.principal) where.push(`principal IS NOT NULL AND principal->>'id' = ${p(q.principal)}`);
    // Both clauses, so the planner can use the partial index runs_data_source_page_idx.
    if (q.dataSourceId) where.push(`dataset ? 'data_source_id' AND dataset->>'data_source_id' = ${p(q.dataSourceId)}`);
    if (q.from) where.push(`requested_at >= ${p(q.from)}::timestamptz`);
    if (q.to) where.push(`requested_at < ${p(q.to)}::timestamptz`);
    if (q.cursor) where.push(`(requested_at, id) < (${p(q.cursor.requestedAt)}::timestamptz, ${p(q.cursor.id)})`);
    const rows: Row[] = await this.db.query(
      `SELECT ${SUMMARY_COLUMNS}
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
      items: page.map((r) => runFromColumns(r, RUN_SUMMARY_FIELDS)),
      nextCursor: more && last ? encodeCursor([last.cursor_at as string, last.id as string]) : null,
    };
  }

  /**
   * A run with its latest logs. A run accepted a moment ago but not projected yet is folded from its
   * `RunRequested` on the stream (read-your-writes), so it answers `Pending` rather than 404.
   */
  async details(id: string, logLimit = 100): Promise<RunDetails | undefined> {
    const view = await this.reader.view(id);
    if (!view) return undefined;
    const logs: Row[] = await this.db.query(
      `SELECT * FROM (SELECT seq, level, message, context, attempt, occurred_at FROM ${this.s}.run_logs
         WHERE run_id = $1 ORDER BY seq DESC LIMIT $2) l ORDER BY seq ASC`,
      [id, logLimit],
    );
    // The list item's fields first, then the others: the order the answer has always had.
    const run = { ...pickRun(view, RUN_SUMMARY_FIELDS), ...view };
    const progress = run.kind === 'optimization' ? await this.progress.of(run) : {};
    return { ...run, ...progress, logs: logs.map(logLine) };
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
