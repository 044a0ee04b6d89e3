import type { SolveStatus } from './highs-solver';

/** One interval of a plan. Powers in MW over the interval; `socMWh` is the state of charge at its end. */
export interface ScheduleRow {
  t: number;
  /** ISO instant the interval starts, when the input said when the horizon starts. */
  start?: string;
  /** €/MWh the model valued this interval at. */
  price: number;
  chargeMW: number;
  dischargeMW: number;
  socMWh: number;
  /** RMO: the committed day-ahead net position (discharge positive). */
  committedMW?: number;
  /** RMO: the intraday trade on top of it, sold positive, bought negative. */
  tradeMW?: number;
}

export interface EnergySummary {
  /** Σ charge·Δ, drawn from the grid. */
  energyInMWh: number;
  /** Σ discharge·Δ, delivered to the grid. */
  energyOutMWh: number;
  /** Equivalent full cycles: energyOut / capacity. */
  cycles: number;
  /** Market value before costs: Σ price·(discharge − charge)·Δ, or for RMO Σ price·trade·Δ. */
  revenue: number;
  /** degradationCostPerMWh · energyOut. */
  degradationCost: number;
  /** RMO: fee · Σ |trade|·Δ; 0 otherwise. */
  tradingFees: number;
}

export interface EnergyResult {
  status: SolveStatus;
  /** Why there is no (or only a partial) answer: set for infeasible, unbounded, error, and a time limit without a plan. */
  reason?: string;
  /** revenue − degradationCost − tradingFees of the plan returned; null without a plan. */
  objectiveValue: number | null;
  /** Relative gap of a MIP's plan (0 when proven optimal within tolerance). */
  mipGap?: number;
  solverTimeMs: number;
  /** Whether the charge-or-discharge binaries were in the model. */
  integer: boolean;
  schedule: ScheduleRow[];
  summary: EnergySummary;
  notes: string[];
}

/** SO: the whole rolling plan plus the set-points to apply now. */
export interface SetpointResult extends EnergyResult {
  setpoints: ScheduleRow[];
}

export const EMPTY_SUMMARY: Readonly<EnergySummary> = Object.freeze({
  energyInMWh: 0,
  energyOutMWh: 0,
  cycles: 0,
  revenue: 0,
  degradationCost: 0,
  tradingFees: 0,
});
