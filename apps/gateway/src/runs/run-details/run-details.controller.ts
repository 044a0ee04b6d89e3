import { Controller, Get, NotFoundException, Param } from '@nestjs/common';
import type { RunDetails } from '@runforge/contracts';
import { RunsQueries } from '../runs.queries';

/** `GET /api/runs/{id}`: any run (backtest or optimization) with its latest 100 log lines. */
@Controller('api/runs')
export class RunDetailsController {
  constructor(private readonly runs: RunsQueries) {}

  @Get(':id')
  async get(@Param('id') id: string): Promise<RunDetails> {
    const run = await this.runs.details(id);
    if (!run) throw new NotFoundException({ statusCode: 404, error: 'Not Found', message: `no run with id "${id}"` });
    return run;
  }
}
