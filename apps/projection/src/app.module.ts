import { Module, type DynamicModule } from '@nestjs/common';
import type { JetStreamServer } from '@runforge/messaging';
import { PlatformModule, type RunForgeConfig } from '@runforge/service';
import { readModelsModule } from '@runforge/read-models';
import { RunsProjectionModule } from './runs/runs.module';

@Module({})
export class ProjectionAppModule {
  static forRoot(cfg: RunForgeConfig, transport: JetStreamServer): DynamicModule {
    return {
      module: ProjectionAppModule,
      imports: [
        PlatformModule.forRoot(cfg.service, cfg),
        readModelsModule(cfg),
        RunsProjectionModule.forRoot(transport),
      ],
    };
  }
}
