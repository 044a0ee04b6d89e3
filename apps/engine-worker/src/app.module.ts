import { Module, type DynamicModule } from '@nestjs/common';
import { PlatformModule, type RunForgeConfig } from '@runforge/service';
import { OptimizationCoordinator } from './optimizations/optimization.coordinator';
import { TrialBatchConsumer } from './optimizations/trial-batch.consumer';
import { BarsCache } from './runs/bars-cache';
import { CpuProfile } from './runs/cpu-profile';
import { GracefulShutdown } from './runs/graceful-shutdown';
import { RunRequestedConsumer } from './runs/run-requested.consumer';
import { RunSignals } from './runs/run-signals.service';

@Module({})
export class EngineWorkerAppModule {
  static forRoot(cfg: RunForgeConfig): DynamicModule {
    return {
      module: EngineWorkerAppModule,
      imports: [PlatformModule.forRoot(cfg.service, cfg)],
      providers: [
        RunSignals,
        BarsCache,
        OptimizationCoordinator,
        RunRequestedConsumer,
        TrialBatchConsumer,
        GracefulShutdown,
        CpuProfile,
      ],
    };
  }
}
