import type { FieldIssue } from '@runforge/engine';
import { EnergyInputError } from './errors';
import { highsSolver, type LpSolver } from './highs-solver';
import { resolveHorizon, sliceHorizon } from './horizon';
import type { SetpointResult } from './result';
import type { AssetInput, ModelConfigInput, PriceSeries } from './schemas';
import { solveStorage } from './storage';

/** Four hours of quarter-hours. */
export const DEFAULT_SO_HORIZON_HOURS = 4;

export interface SoInput {
  series: PriceSeries;
  /** The interval starting now (ISO instant); default: the series' start. */
  from?: string;
  /** Rolling-horizon length; default 4 hours of the series' interval. */
  intervals?: number;
  /** The measured state of charge now; replaces `asset.initialSocMWh`. */
  initialSocMWh: number;
  /** How many leading intervals of the plan to return as set-points; default 1. */
  setpointIntervals?: number;
  /** Which prices to plan with; default intraday when the series has them, else day-ahead. */
  prices?: 'intraday' | 'dayAhead';
  asset: AssetInput;
  config?: ModelConfigInput;
}

/**
 * SO: the storage model over the next few hours from the measured state of charge, run every
 * interval (a rolling horizon). The first interval(s) of the plan are the set-points to apply;
 * the rest only shape them.
 */
export async function solveSo(input: SoInput, solver: LpSolver = highsSolver): Promise<SetpointResult> {
  const { series, horizon } = resolveHorizon(
    input.series,
    input.from,
    input.intervals ?? (DEFAULT_SO_HORIZON_HOURS * 60) / input.series.intervalMinutes,
  );
  const setpointIntervals = input.setpointIntervals ?? 1;
  const issues: FieldIssue[] = [];
  if (!Number.isInteger(setpointIntervals) || setpointIntervals < 1 || setpointIntervals > horizon.intervals) {
    issues.push({
      field: 'setpointIntervals',
      reason: `must be an integer between 1 and the horizon's ${horizon.intervals} intervals, got ${setpointIntervals}`,
    });
  }
  const kind = input.prices ?? (series.intraday !== undefined ? 'intraday' : 'dayAhead');
  const prices = kind === 'intraday' ? series.intraday : series.dayAhead;
  if (prices === undefined) issues.push({ field: 'series.intraday', reason: 'is required when prices is "intraday"' });
  if (issues.length > 0 || prices === undefined) throw new EnergyInputError(issues);

  let result;
  try {
    result = await solveStorage(
      {
        prices: sliceHorizon(prices, horizon),
        intervalHours: horizon.intervalHours,
        start: horizon.start,
        asset: { ...input.asset, initialSocMWh: input.initialSocMWh },
        ...(input.config !== undefined ? { config: input.config } : {}),
      },
      solver,
    );
  } catch (err) {
    // The measured SoC is an input of its own here, so its issues name it rather than the asset's field.
    if (err instanceof EnergyInputError) {
      throw new EnergyInputError(
        err.issues.map((i) => (i.field === 'asset.initialSocMWh' ? { ...i, field: 'initialSocMWh' } : i)),
        { cause: err },
      );
    }
    throw err;
  }
  const notes =
    kind === 'dayAhead' && input.prices === undefined ? ['no intraday prices: planned with day-ahead prices'] : [];
  return {
    ...result,
    notes: [...notes, ...result.notes],
    setpoints: result.schedule.slice(0, setpointIntervals),
  };
}
