import { Module, type DynamicModule } from '@nestjs/common';
import { PlatformModule, type RunForgeConfig } from '@runforge/platform';
import { RunRequestedConsumer } from './runs/run-requested.consumer';

@Module({})
export class EngineWorkerAppModule {
  static forRoot(cfg: RunForgeConfig): DynamicModule {
    return {
      module: EngineWorkerAppModule,
      imports: [PlatformModule.forRoot(cfg.service, cfg)],
      providers: [RunRequestedConsumer],
    };
  }
}
