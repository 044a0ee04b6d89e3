import { Module, type DynamicModule } from '@nestjs/common';
import { PlatformModule, type RunForgeConfig } from '@runforge/service';
import { readModelsModule } from '@runforge/read-models';
import { ScheduleChangesController } from './schedules/schedule-changes.controller';
import { SchedulerService } from './schedules/scheduler.service';

@Module({})
export class SchedulerAppModule {
  static forRoot(cfg: RunForgeConfig): DynamicModule {
    return {
      module: SchedulerAppModule,
      imports: [PlatformModule.forRoot(cfg.service, cfg), readModelsModule(cfg)],
      controllers: [ScheduleChangesController],
      providers: [SchedulerService],
    };
  }
}
