import { highsSolver, type LpSolver } from './highs-solver';
import { resolveHorizon, sliceHorizon } from './horizon';
import type { EnergyResult } from './result';
import type { AssetInput, ModelConfigInput, PriceSeries } from './schemas';
import { solveStorage } from './storage';

export interface DmoInput {
  series: PriceSeries;
  /** First interval of the delivery day (ISO instant); default: the series' start. */
  deliveryStart?: string;
  /**
   * Intervals in the delivery day; default 24 h of the series' interval (24, 48 or 96). A local day
   * across a DST change has 23 or 25 hours: pass its count (e.g. 92 or 100 quarter-hours).
   */
  intervals?: number;
  asset: AssetInput;
  config?: ModelConfigInput;
}

/** DMO: tomorrow's schedule from day-ahead prices, the storage model over one delivery day. */
export async function solveDmo(input: DmoInput, solver: LpSolver = highsSolver): Promise<EnergyResult> {
  const { series, horizon } = resolveHorizon(
    input.series,
    input.deliveryStart,
    input.intervals ?? (24 * 60) / input.series.intervalMinutes,
  );
  return await solveStorage(
    {
      prices: sliceHorizon(series.dayAhead, horizon),
      intervalHours: horizon.intervalHours,
      start: horizon.start,
      asset: input.asset,
      ...(input.config !== undefined ? { config: input.config } : {}),
    },
    solver,
  );
}
