import { Module, type DynamicModule } from '@nestjs/common';
import { PlatformModule, readModelsModule, type RunForgeConfig } from '@runforge/platform';
import { SchedulerService } from './schedules/scheduler.service';

@Module({})
export class SchedulerAppModule {
  static forRoot(cfg: RunForgeConfig): DynamicModule {
    return {
      module: SchedulerAppModule,
      imports: [PlatformModule.forRoot(cfg.service, cfg), readModelsModule(cfg)],
      providers: [SchedulerService],
    };
  }
}
