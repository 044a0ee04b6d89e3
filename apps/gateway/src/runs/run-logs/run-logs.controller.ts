import { Controller, Get, NotFoundException, Param, Query } from '@nestjs/common';
import { LOG_LEVELS, type Page, type RunLogLine } from '@runforge/contracts';
import { z } from 'zod';
import { parseQueryOrThrow } from '../query-params';
import { decodeCursor } from '../cursor';
import { RunsQueries } from '../runs.queries';

const last = (v: unknown): unknown => (Array.isArray(v) ? v[v.length - 1] : v);

export const RunLogsQuerySchema = z
  .object({
    /** Minimum severity: `WARNING` answers WARNING and ERROR lines. */
    level: z
      .preprocess(
        (v) => (typeof last(v) === 'string' ? (last(v) as string).toUpperCase() : last(v)),
        z.enum(LOG_LEVELS, { error: `must be one of ${LOG_LEVELS.join(', ')}` }),
      )
      .optional(),
    limit: z.coerce
      .number({ error: 'must be an integer from 1 to 1000' })
      .int('must be an integer from 1 to 1000')
      .min(1, 'must be an integer from 1 to 1000')
      .max(1000, 'must be an integer from 1 to 1000')
      .default(100),
    cursor: z
      .string()
      .transform((c, ctx) => {
        const [seq, ...rest] = decodeCursor(c) ?? [];
        if (rest.length > 0 || typeof seq !== 'number' || !Number.isSafeInteger(seq) || seq < 0) {
          ctx.addIssue({ code: 'custom', message: 'not a cursor returned by this endpoint' });
          return z.NEVER;
        }
        return seq;
      })
      .optional(),
  })
  .strict();

/**
 * `GET /api/runs/{id}/logs?level=&limit=&cursor=`: a run's log lines in the order they were
 * recorded (stream sequence), paged by an opaque cursor on that sequence.
 */
@Controller('api/runs')
export class RunLogsController {
  constructor(private readonly runs: RunsQueries) {}

  @Get(':id/logs')
  async logs(@Param('id') id: string, @Query() query: Record<string, unknown>): Promise<Page<RunLogLine>> {
    const q = parseQueryOrThrow(RunLogsQuerySchema, query);
    if (!(await this.runs.exists(id))) {
      throw new NotFoundException({ statusCode: 404, error: 'Not Found', message: `no run with id "${id}"` });
    }
    return this.runs.logs(id, { minLevel: q.level, limit: q.limit, afterSeq: q.cursor });
  }
}
