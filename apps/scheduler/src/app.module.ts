import { Module, type DynamicModule } from '@nestjs/common';
import { PlatformModule, type RunForgeConfig } from '@runforge/platform';

@Module({})
export class SchedulerAppModule {
  static forRoot(cfg: RunForgeConfig): DynamicModule {
    return { module: SchedulerAppModule, imports: [PlatformModule.forRoot(cfg.service, cfg)] };
  }
}
