import { Controller, Get } from '@nestjs/common';
import { listStrategies, type StrategyInfo } from '@runforge/engine';

@Controller('api/strategies')
export class ListStrategiesController {
  /** Every strategy with its declared parameters (type, bounds, default): forms are generated from it. */
  @Get()
  list(): { strategies: readonly StrategyInfo[] } {
    return { strategies: listStrategies() };
  }
}
