import { Module } from '@nestjs/common';
import { ListRunsController } from './list-runs/list-runs.controller';
import { RunDetailsController } from './run-details/run-details.controller';
import { RunEventsController } from './run-events/run-events.controller';
import { RunLogsController } from './run-logs/run-logs.controller';
import { OptimizationProgress } from '../optimizations/optimization-progress.service';
import { RunReader } from './run-reader.service';
import { RunsQueries } from './runs.queries';

/** The kind-agnostic read side of runs: one run, listing, details with logs, logs, audit history. */
@Module({
  controllers: [ListRunsController, RunDetailsController, RunLogsController, RunEventsController],
  providers: [RunReader, RunsQueries, OptimizationProgress],
  exports: [RunReader, RunsQueries, OptimizationProgress],
})
export class RunsReadModule {}
