import { Module } from '@nestjs/common';
import { ListRunsController } from './list-runs/list-runs.controller';
import { RunDetailsController } from './run-details/run-details.controller';
import { RunEventsController } from './run-events/run-events.controller';
import { RunLogsController } from './run-logs/run-logs.controller';
import { OptimizationProgress } from '../optimizations/optimization-progress.service';
import { RunReader } from './run-reader.service';
import { RunsQueries } from './runs.queries';
import { kindRegistryProvider } from '../kinds/kind-registry.provider';

/** The kind-agnostic read side of runs: one run, listing, details with logs, logs, audit history. */
@Module({
  controllers: [ListRunsController, RunDetailsController, RunLogsController, RunEventsController],
  providers: [RunReader, RunsQueries, OptimizationProgress, kindRegistryProvider],
  exports: [RunReader, RunsQueries, OptimizationProgress, kindRegistryProvider],
})
export class RunsReadModule {}
