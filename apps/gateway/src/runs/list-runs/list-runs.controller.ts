import { Controller, Get, Query } from '@nestjs/common';
import { parseQueryOrThrow } from '../query-params';
import type { Page, RunSummary } from '@runforge/contracts';
import { RunsQueries } from '../runs.queries';
import { RunListQuerySchema } from './list-runs.query';

/**
 * `GET /api/runs`: every run, newest first (`requested_at desc, id desc`), filtered and paged with
 * an opaque keyset cursor (`nextCursor`), so runs arriving meanwhile never shift a page.
 */
@Controller('api/runs')
export class ListRunsController {
  constructor(private readonly runs: RunsQueries) {}

  @Get()
  async list(@Query() query: Record<string, unknown>): Promise<Page<RunSummary>> {
    return this.runs.list(parseQueryOrThrow(RunListQuerySchema, query));
  }
}
