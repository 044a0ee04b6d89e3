import { Controller, Get, NotFoundException, Param, Query } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import type { TrialItem, TrialsPage } from '@runforge/contracts';
import { z } from 'zod';
import { DataSource } from 'typeorm';
import { schemaOf } from '@runforge/read-models';
import { parseOrThrow, ValidationFailed } from '../../common/validation';
import { decodeCursor, encodeCursor } from '../cursor';
import { RunReader } from '../run-reader.service';

const SORTS = {
  index: { column: 'index', dir: 'ASC' },
  '-index': { column: 'index', dir: 'DESC' },
  score: { column: 'score', dir: 'ASC' },
  '-score': { column: 'score', dir: 'DESC' },
  duration: { column: 'duration_ms', dir: 'ASC' },
  '-duration': { column: 'duration_ms', dir: 'DESC' },
} as const;

const QuerySchema = z
  .object({
    status: z.enum(['Completed', 'Failed']).optional(),
    sort: z.enum(Object.keys(SORTS) as [keyof typeof SORTS, ...(keyof typeof SORTS)[]]).default('index'),
    limit: z.coerce.number().int().min(1).max(1000).default(100),
    cursor: z.string().max(200).optional(),
  })
  .strict();

interface TrialRowRaw {
  id: string;
  index: number;
  status: TrialItem['status'];
  params: Record<string, unknown>;
  metrics: Record<string, number> | null;
  score: number | null;
  error_message: string | null;
  error_stack_trace: string | null;
  fingerprint: string | null;
  duration_ms: number;
  worker_id: string;
  occurred_at: Date;
}

/**
 * The keyset cursor of a page: the run, sort and status filter it was made for, then the sort key
 * and index of the page's last row. A cursor only continues the listing it came from.
 */
function trialsCursor(
  runId: string,
  sort: string,
  status: string | undefined,
  key: number | null,
  index: number,
): string {
  return encodeCursor([runId, sort, status ?? '', key ?? 'null', index]);
}

function readTrialsCursor(
  cursor: string,
  runId: string,
  sort: string,
  status: string | undefined,
): { key: number | null; index: number } | ValidationFailed {
  const v = decodeCursor(cursor);
  const [cRun, cSort, cStatus, key, index] = v ?? [];
  if (
    !v ||
    v.length !== 5 ||
    typeof cRun !== 'string' ||
    typeof cSort !== 'string' ||
    typeof cStatus !== 'string' ||
    (typeof key !== 'number' && key !== 'null') ||
    typeof index !== 'number'
  )
    return new ValidationFailed([{ field: 'cursor', reason: 'not a cursor returned by this endpoint' }]);
  if (cRun !== runId)
    return new ValidationFailed([{ field: 'cursor', reason: `belongs to the trials of run ${cRun}` }]);
  if (cSort !== sort || cStatus !== (status ?? ''))
    return new ValidationFailed([
      {
        field: 'cursor',
        reason: `belongs to sort=${cSort} ${cStatus ? `with status=${cStatus}` : 'with no status filter'}; ask again without a cursor to list by another sort or status`,
      },
    ]);
  return { key: key === 'null' ? null : key, index };
}

@Controller('api/runs')
export class ListTrialsController {
  constructor(
    private readonly runs: RunReader,
    @InjectDataSource() private readonly db: DataSource,
  ) {}

  /** An optimization's trials, filtered by status, sorted, with keyset pagination; failed ones carry message + stack. */
  @Get(':id/trials')
  async list(@Param('id') id: string, @Query() query: unknown): Promise<TrialsPage> {
    const q = parseOrThrow(QuerySchema, query);
    const run = await this.runs.get(id);
    if (!run) throw new NotFoundException({ statusCode: 404, error: 'Not Found', message: `no run with id "${id}"` });
    if (run.kind !== 'optimization') {
      throw new NotFoundException({
        statusCode: 404,
        error: 'Not Found',
        message: `run "${id}" is a ${run.kind}: only optimizations have trials`,
      });
    }
    const sort = SORTS[q.sort];
    const schema = schemaOf(this.db);
    const params: unknown[] = [id];
    const where = ['run_id = $1'];
    if (q.status) {
      params.push(q.status);
      where.push(`status = $${params.length}`);
    }
    const keyExpr =
      sort.column === 'index'
        ? 'index'
        : `COALESCE(${sort.column}, ${sort.dir === 'ASC' ? "'Infinity'" : "'-Infinity'"}::float8)`;
    if (q.cursor) {
      const c = readTrialsCursor(q.cursor, id, q.sort, q.status);
      if (c instanceof ValidationFailed) throw c;
      const cmp = sort.dir === 'ASC' ? '>' : '<';
      if (sort.column === 'index') {
        params.push(c.index);
        where.push(`index ${cmp} $${params.length}`);
      } else {
        params.push(c.key ?? (sort.dir === 'ASC' ? Infinity : -Infinity), c.index);
        where.push(`(${keyExpr}, index) ${cmp} ($${params.length - 1}::float8, $${params.length})`);
      }
    }
    params.push(q.limit + 1);
    const rows = await this.db.query<TrialRowRaw[]>(
      `SELECT id, index, status, params, metrics, score, error_message, error_stack_trace, fingerprint, duration_ms, worker_id, occurred_at
         FROM "${schema}".trials WHERE ${where.join(' AND ')}
        ORDER BY ${keyExpr} ${sort.dir}, index ${sort.dir} LIMIT $${params.length}`,
      params,
    );
    const page = rows.slice(0, q.limit);
    const last = page[page.length - 1];
    const keyOf = (r: TrialRowRaw): number | null =>
      sort.column === 'index' ? r.index : sort.column === 'score' ? r.score : r.duration_ms;
    return {
      items: page.map((r): TrialItem => ({
        trialId: r.id,
        index: r.index,
        status: r.status,
        params: r.params,
        ...(r.metrics ? { metrics: r.metrics, score: r.score } : {}),
        ...(r.status === 'Failed'
          ? { errorMessage: r.error_message, errorStackTrace: r.error_stack_trace, fingerprint: r.fingerprint }
          : {}),
        durationMs: r.duration_ms,
        workerId: r.worker_id,
        occurredAt: r.occurred_at.toISOString(),
      })),
      nextCursor: rows.length > q.limit && last ? trialsCursor(id, q.sort, q.status, keyOf(last), last.index) : null,
      totalCombinations: run.totalCombinations,
      completedCombinations: run.completedCombinations,
      failedCombinations: run.failedCombinations,
    };
  }
}
