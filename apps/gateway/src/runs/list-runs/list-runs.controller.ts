import { Controller, Get, Query } from '@nestjs/common';
import { parseQueryOrThrow } from '../query-params';
import { RunsQueries, type Page } from '../runs.queries';
import { RunListQuerySchema } from './list-runs.query';

/**
 * `GET /api/runs`: every run, newest first (`requested_at desc, id desc`), filtered and paged with
 * an opaque keyset cursor (`nextCursor`), so runs arriving meanwhile never shift a page.
 */
@Controller('api/runs')
export class ListRunsController {
  constructor(private readonly runs: RunsQueries) {}

  @Get()
  async list(@Query() query: Record<string, unknown>): Promise<Page<Record<string, unknown>>> {
    return this.runs.list(parseQueryOrThrow(RunListQuerySchema, query));
  }
}
