import { Module, type DynamicModule } from '@nestjs/common';
import { EnergySolverThread } from './energy/solver-thread';
import { ProgramKindsCatalog } from './runs/program-kinds.catalog';
import { PlatformModule, type RunForgeConfig } from '@runforge/service';
import { OptimizationCoordinator } from './optimizations/optimization.coordinator';
import { TrialBatchController } from './optimizations/trial-batch.controller';
import { BarsCache } from './runs/bars-cache';
import { GracefulShutdown } from './runs/graceful-shutdown';
import { RunDispatchController } from './runs/run-dispatch.controller';
import { RunSignals } from './runs/run-signals.service';
import { RunSignalsController } from './runs/run-signals.controller';

@Module({})
export class EngineWorkerAppModule {
  static forRoot(cfg: RunForgeConfig): DynamicModule {
    return {
      module: EngineWorkerAppModule,
      imports: [PlatformModule.forRoot(cfg.service, cfg)],
      // The transport's handlers: runs, trial batches, and the pushes that stop them.
      controllers: [RunDispatchController, TrialBatchController, RunSignalsController],
      providers: [
        RunSignals,
        BarsCache,
        OptimizationCoordinator,
        GracefulShutdown,
        ProgramKindsCatalog,
        EnergySolverThread,
      ],
    };
  }
}
