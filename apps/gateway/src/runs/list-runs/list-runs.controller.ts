import { Controller, Get, Query } from '@nestjs/common';
import { parseQueryOrThrow } from '../query-params';
import type { Page, RunSummary } from '@runforge/contracts';
import { RunsQueries } from '../runs.queries';
import { RunListQuerySchema } from './list-runs.query';
import { KindRegistry } from '@runforge/submission';
import { ValidationFailed } from '../../common/validation';

/**
 * `GET /api/runs`: every run, newest first (`requested_at desc, id desc`), filtered and paged with
 * an opaque keyset cursor (`nextCursor`), so runs arriving meanwhile never shift a page.
 */
@Controller('api/runs')
export class ListRunsController {
  constructor(
    private readonly runs: RunsQueries,
    private readonly kinds: KindRegistry,
  ) {}

  @Get()
  async list(@Query() query: Record<string, unknown>): Promise<Page<RunSummary>> {
    const parsed = parseQueryOrThrow(RunListQuerySchema, query);
    const known = this.kinds.names();
    const unknown = parsed.kind?.find((k) => !known.includes(k));
    if (unknown !== undefined)
      throw new ValidationFailed([
        { field: 'kind', reason: `unknown kind "${unknown}"; known kinds: ${known.join(', ')}` },
      ]);
    return this.runs.list(parsed);
  }
}
