import { Module, type DynamicModule } from '@nestjs/common';
import { PlatformModule, readModelsModule, type RunForgeConfig } from '@runforge/platform';
import { SubmitBacktestController } from './backtests/submit-backtest/submit-backtest.controller';
import { BacktestStatusController } from './backtests/backtest-status/backtest-status.controller';
import { ListStrategiesController } from './strategies/list-strategies.controller';
import { RunReader } from './runs/run-reader.service';

@Module({})
export class GatewayAppModule {
  static forRoot(cfg: RunForgeConfig): DynamicModule {
    return {
      module: GatewayAppModule,
      imports: [PlatformModule.forRoot(cfg.service, cfg), readModelsModule(cfg)],
      controllers: [SubmitBacktestController, BacktestStatusController, ListStrategiesController],
      providers: [RunReader],
    };
  }
}
