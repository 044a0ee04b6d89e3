import { EnergyInputError } from './errors';
import { highsSolver, type LpSolver } from './highs-solver';
import { resolveHorizon, sliceHorizon } from './horizon';
import type { EnergyResult } from './result';
import type { AssetInput, ModelConfigInput, PriceSeries } from './schemas';
import { solveStorage } from './storage';

export interface RmoInput {
  /** Needs `intraday` prices. */
  series: PriceSeries;
  /** First interval to re-plan (ISO instant); default: the series' start. */
  from?: string;
  /** Default: the rest of the series (the rest of today, plus tomorrow once known). */
  intervals?: number;
  /** The committed day-ahead net position per horizon interval, MW, discharge positive. Absent: zero. */
  committed?: readonly number[];
  /** € per MWh traded intraday (bought or sold); default 0. */
  tradingFeePerMWh?: number;
  /** `initialSocMWh` is the state of charge now. */
  asset: AssetInput;
  config?: ModelConfigInput;
}

/**
 * RMO: adjusts the committed position at intraday prices. The plan's physical schedule is
 * committed + trade; only the trades are valued (the committed position is already sold), net of
 * the fee and the degradation cost of what is discharged.
 */
export async function solveRmo(input: RmoInput, solver: LpSolver = highsSolver): Promise<EnergyResult> {
  const { series, horizon } = resolveHorizon(input.series, input.from, input.intervals);
  if (series.intraday === undefined) {
    throw new EnergyInputError([{ field: 'series.intraday', reason: 'is required: RMO re-plans at intraday prices' }]);
  }
  const notes: string[] = [];
  let committed = input.committed;
  if (committed === undefined) {
    committed = new Array<number>(horizon.intervals).fill(0);
    notes.push('no committed position given: optimized against a committed position of zero');
  }
  const result = await solveStorage(
    {
      prices: sliceHorizon(series.intraday, horizon),
      intervalHours: horizon.intervalHours,
      start: horizon.start,
      asset: input.asset,
      committed,
      tradingFeePerMWh: input.tradingFeePerMWh ?? 0,
      ...(input.config !== undefined ? { config: input.config } : {}),
    },
    solver,
  );
  return { ...result, notes: [...notes, ...result.notes] };
}
