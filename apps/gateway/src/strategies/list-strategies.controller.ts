import { Controller, Get } from '@nestjs/common';
import { defaultObjectiveDirection, OBJECTIVE_METRICS } from '@runforge/contracts';
import { listStrategies, TIMEFRAMES, type StrategyInfo, type Timeframe } from '@runforge/engine';

@Controller('api/strategies')
export class ListStrategiesController {
  /**
   * Every strategy with its declared parameters (type, bounds, default), and the vocabulary the
   * request forms offer (timeframes, objective metrics and the direction each takes by default):
   * clients are generated from it rather than keeping their own copies.
   */
  @Get()
  list(): {
    strategies: readonly StrategyInfo[];
    timeframes: readonly Timeframe[];
    objectiveMetrics: readonly string[];
    objectiveDefaultDirections: Record<string, 'maximize' | 'minimize'>;
  } {
    return {
      strategies: listStrategies(),
      timeframes: TIMEFRAMES,
      objectiveMetrics: OBJECTIVE_METRICS,
      objectiveDefaultDirections: Object.fromEntries(OBJECTIVE_METRICS.map((m) => [m, defaultObjectiveDirection(m)])),
    };
  }
}
