import { parseTimestamp, type FieldIssue } from '@runforge/engine';
import { EnergyInputError } from './errors';
import { highsSolver, type LpSolution, type LpSolver } from './highs-solver';
import { EMPTY_SUMMARY, type EnergyResult, type EnergySummary, type ScheduleRow } from './result';
import {
  MAX_INTERVALS,
  parseAsset,
  parseModelConfig,
  type AssetInput,
  type ModelConfig,
  type ModelConfigInput,
} from './schemas';
import { col, effectivePowerMW, finalSocFloor, writeStorageLp, type StorageProblem } from './storage-lp';

/** Applied when `model_config.time_limit` is absent: a scheduled model must not hold a worker for ever. */
export const DEFAULT_TIME_LIMIT_SECONDS = 300;

export interface StorageInput {
  /** €/MWh per interval. */
  prices: readonly number[];
  /** Interval length Δ in hours (0.25, 0.5, 1 for the market intervals). */
  intervalHours: number;
  asset: AssetInput;
  config?: ModelConfigInput;
  /** RMO: the committed net position per interval in MW (discharge positive); turns on the deviation model. */
  committed?: readonly number[];
  /** RMO: € per MWh bought or sold on top of the committed position. */
  tradingFeePerMWh?: number;
  /** ISO instant the first interval starts; gives each schedule row its `start`. */
  start?: string;
}

/**
 * The storage model (see `writeStorageLp`), solved with HiGHS. Invalid input throws an
 * `EnergyInputError` listing every issue; everything the solver can say — infeasible, a time limit,
 * a solver failure — is a result with a status and a reason, never a throw.
 *
 * An integer model is solved in two steps. The LP relaxation first: if its optimum never charges
 * and discharges in the same interval it is also the MIP's optimum and the MIP is skipped.
 * Otherwise netting those intervals out (same SoC path, see `netSimultaneous`) gives a feasible
 * MIP point, which starts the MIP: a time limit then still ends with a plan, and the LP optimum
 * bounds its gap.
 */
export async function solveStorage(input: StorageInput, solver: LpSolver = highsSolver): Promise<EnergyResult> {
  const { problem, config, startMs } = prepare(input);
  const notes: string[] = [];
  const integer = chooseIntegrality(config, problem.prices, notes);
  notes.push(...configNotes(config));
  const timeLimitSeconds = config.time_limit ?? DEFAULT_TIME_LIMIT_SECONDS;
  const finish = (outcome: Outcome): EnergyResult =>
    result(problem, outcome, { notes, startMs, timeLimitSeconds, integer });

  const relaxed = await solver(writeStorageLp(problem, false), { timeLimitSeconds });
  const lpMs = relaxed.solverTimeMs;
  if (relaxed.values === null) return finish({ solution: relaxed, plan: null, solverTimeMs: lpMs });
  const plan = readPlan(problem, relaxed.values);
  if (!integer) {
    netSimultaneous(problem, plan, (t) => isTie(problem, t));
    return finish({ solution: relaxed, plan, solverTimeMs: lpMs });
  }
  const netted = netSimultaneous(problem, plan, () => true);
  if (relaxed.status !== 'optimal') return finish({ solution: relaxed, plan, solverTimeMs: lpMs });
  const lpBound = relaxed.objectiveValue ?? Infinity;
  if (netted === 0) {
    notes.push('the LP optimum never charges and discharges at once, so it is the MIP optimum: MIP skipped');
    return finish({ solution: relaxed, plan, solverTimeMs: lpMs, bound: lpBound });
  }
  const remainingSeconds = timeLimitSeconds - lpMs / 1000;
  if (remainingSeconds <= 0) {
    return finish({ solution: { ...relaxed, status: 'time_limit' }, plan, solverTimeMs: lpMs, bound: lpBound });
  }
  const mip = await solver(writeStorageLp(problem, true), {
    timeLimitSeconds: remainingSeconds,
    ...(config.mip_gap !== undefined ? { mipRelGap: config.mip_gap } : {}),
    start: startValues(problem, plan),
  });
  const solverTimeMs = lpMs + mip.solverTimeMs;
  const bound = Math.min(lpBound, mip.dualBound ?? Infinity);
  if (mip.values === null) return finish({ solution: mip, plan: null, solverTimeMs });
  return finish({ solution: mip, plan: readPlan(problem, mip.values), solverTimeMs, bound });
}

interface Prepared {
  problem: StorageProblem;
  config: ModelConfig;
  startMs: number | undefined;
}

function prepare(input: StorageInput): Prepared {
  const issues: FieldIssue[] = [];
  const { prices, intervalHours } = input;
  const n = prices.length;
  if (n === 0 || n > MAX_INTERVALS) {
    issues.push({ field: 'prices', reason: `must have between 1 and ${MAX_INTERVALS} intervals, got ${n}` });
  }
  issues.push(...finiteIssues('prices', prices));
  if (!Number.isFinite(intervalHours) || intervalHours <= 0 || intervalHours > 24) {
    issues.push({ field: 'intervalHours', reason: `must be in (0, 24] hours, got ${intervalHours}` });
  }
  if (input.committed !== undefined) {
    if (input.committed.length !== n) {
      issues.push({
        field: 'committed',
        reason: `must have one value per interval (${n}), got ${input.committed.length}`,
      });
    }
    issues.push(...finiteIssues('committed', input.committed));
  }
  const fee = input.tradingFeePerMWh ?? 0;
  if (!Number.isFinite(fee) || fee < 0) {
    issues.push({ field: 'tradingFeePerMWh', reason: `must be a finite number >= 0, got ${fee}` });
  }
  let startMs: number | undefined;
  if (input.start !== undefined) {
    startMs = parseTimestamp(input.start);
    if (startMs === undefined)
      issues.push({ field: 'start', reason: `must be an ISO-8601 instant, got "${input.start}"` });
  }
  const asset = parseAsset(input.asset);
  if (!asset.ok) issues.push(...asset.issues);
  const config = parseModelConfig(input.config);
  if (!config.ok) issues.push(...config.issues);
  if (issues.length > 0 || !asset.ok || !config.ok) throw new EnergyInputError(issues);

  return {
    problem: {
      prices,
      intervalHours,
      asset: asset.value,
      intervalsPerDay: Math.max(1, Math.round(24 / intervalHours)),
      ...(input.committed !== undefined ? { deviation: { committed: input.committed, feePerMWh: fee } } : {}),
    },
    config: config.value,
    startMs,
  };
}

/** Every non-finite entry, by index: `prices[3]: must be a finite number, got NaN`. */
function finiteIssues(field: string, values: readonly number[]): FieldIssue[] {
  const issues: FieldIssue[] = [];
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (typeof v !== 'number' || !Number.isFinite(v)) {
      issues.push({ field: `${field}[${i}]`, reason: `must be a finite number, got ${String(v)}` });
    }
  }
  return issues;
}

/**
 * With every price ≥ 0 the LP never gains by charging and discharging in the same interval (the
 * round trip loses energy), so the binaries only cost time; with a negative price it can pay to
 * burn energy that way, which a real converter cannot do.
 */
function chooseIntegrality(config: ModelConfig, prices: readonly number[], notes: string[]): boolean {
  switch (config.integer) {
    case 'always':
      return true;
    case 'never':
      return false;
    case 'auto': {
      const negative = prices.filter((p) => p < 0).length;
      if (negative === 0) return false;
      notes.push(
        `MIP: ${negative} interval(s) with a negative price, where charging and discharging at once could pay`,
      );
      return true;
    }
  }
}

function configNotes(config: ModelConfig): string[] {
  const notes: string[] = [];
  if (config.threads !== undefined && config.threads !== 1) {
    notes.push(`threads=${config.threads} not applied: the HiGHS WebAssembly build is single-threaded`);
  }
  if (config.solver !== undefined && config.solver.toLowerCase() !== 'highs') {
    notes.push(`solver "${config.solver}" is not available: solved with HiGHS`);
  }
  return notes;
}

interface Context {
  notes: string[];
  startMs: number | undefined;
  timeLimitSeconds: number;
  integer: boolean;
}

interface Outcome {
  /** The last solve: its status, message. */
  solution: LpSolution;
  plan: Plan | null;
  /** Across the LP and the MIP. */
  solverTimeMs: number;
  /** Integer models: the best proven bound on the objective. */
  bound?: number;
}

function result(problem: StorageProblem, outcome: Outcome, ctx: Context): EnergyResult {
  const { solution, plan } = outcome;
  const base = { status: solution.status, solverTimeMs: outcome.solverTimeMs, integer: ctx.integer, notes: ctx.notes };
  if (plan === null || solution.status === 'infeasible') {
    return {
      ...base,
      reason: reasonWithoutPlan(problem, solution, ctx),
      objectiveValue: null,
      schedule: [],
      summary: { ...EMPTY_SUMMARY },
    };
  }
  const summary = summarize(problem, plan);
  const objectiveValue = summary.revenue - summary.degradationCost - summary.tradingFees;
  const mipGap = outcome.bound === undefined ? undefined : relativeGap(objectiveValue, outcome.bound);
  if (solution.status === 'time_limit') {
    const within = mipGap === undefined ? '' : `, within ${formatNumber(mipGap * 100)}% of the bound`;
    ctx.notes.push(`time limit of ${ctx.timeLimitSeconds} s reached: the plan is the best found${within}`);
  }
  if (solution.message !== undefined) ctx.notes.push(solution.message);
  return {
    ...base,
    objectiveValue,
    ...(mipGap !== undefined ? { mipGap } : {}),
    schedule: toSchedule(problem, plan, ctx.startMs),
    summary,
  };
}

/** (bound − objective) / |objective|, as HiGHS reports it; none when the objective is 0 and the bound is not. */
function relativeGap(objective: number, bound: number): number | undefined {
  const gap = bound - objective;
  if (gap <= 1e-9 * Math.max(1, Math.abs(objective))) return 0;
  return objective === 0 ? undefined : gap / Math.abs(objective);
}

function reasonWithoutPlan(problem: StorageProblem, solution: LpSolution, ctx: Context): string {
  switch (solution.status) {
    case 'infeasible':
      return explainInfeasibility(problem) ?? solution.message ?? 'HiGHS proved the model infeasible';
    case 'time_limit':
      return `time limit of ${ctx.timeLimitSeconds} s reached before a feasible plan was found`;
    case 'unbounded':
      return 'HiGHS reports the model unbounded';
    case 'optimal':
    case 'error':
      return solution.message ?? 'HiGHS returned no solution';
  }
}

/**
 * Idling is always feasible (the initial SoC is within bounds), so the one constraint that can
 * make the model infeasible is the final SoC: it must be reachable by charging flat out.
 */
function explainInfeasibility(problem: StorageProblem): string | undefined {
  const { asset, intervalHours } = problem;
  const n = problem.prices.length;
  const power = effectivePowerMW(asset);
  const target = finalSocFloor(asset);
  const reachable = asset.initialSocMWh + n * asset.chargeEfficiency * power * intervalHours;
  if (target <= reachable + 1e-9) return undefined;
  const length = intervalHours === 1 ? '' : ` of ${formatNumber(intervalHours * 60)} min`;
  const efficiency =
    asset.chargeEfficiency === 1 ? '' : ` and charge efficiency ${formatNumber(asset.chargeEfficiency)}`;
  return (
    `final state of charge ${formatNumber(target)} MWh is unreachable from ${formatNumber(asset.initialSocMWh)} MWh ` +
    `in ${n} intervals${length} at ${formatNumber(power)} MW${efficiency}`
  );
}

/** Solver values a hair off zero (−1e-12) are taken as 0. */
const ZERO = 1e-9;

function clean(x: number | undefined): number {
  return x === undefined || Math.abs(x) < ZERO ? 0 : x;
}

/** A solution's columns as arrays per interval (MW, MWh). */
interface Plan {
  charge: number[];
  discharge: number[];
  soc: number[];
  /** Deviation model only: MW sold and bought on top of the committed position. */
  sell: number[];
  buy: number[];
}

function readPlan(problem: StorageProblem, values: ReadonlyMap<string, number>): Plan {
  const n = problem.prices.length;
  const column = (name: (t: number) => string): number[] =>
    Array.from({ length: n }, (_, t) => clean(values.get(name(t))));
  const deviation = problem.deviation !== undefined;
  return {
    charge: column(col.charge),
    discharge: column(col.discharge),
    soc: column(col.soc),
    sell: deviation ? column(col.sell) : [],
    buy: deviation ? column(col.buy) : [],
  };
}

/**
 * Where a plan charges and discharges in the same interval, reduces both so the SoC path stays the
 * same (charge by x, discharge by ηc·ηd·x). The delivered energy grows by x·(1 − ηc·ηd), which in
 * the deviation model is sold (or bought less). Returns how many intervals changed.
 */
function netSimultaneous(problem: StorageProblem, plan: Plan, where: (t: number) => boolean): number {
  const roundTrip = problem.asset.chargeEfficiency * problem.asset.dischargeEfficiency;
  let changed = 0;
  for (let t = 0; t < plan.charge.length; t++) {
    const charge = plan.charge[t] as number;
    const discharge = plan.discharge[t] as number;
    if (charge === 0 || discharge === 0 || !where(t)) continue;
    const x = Math.min(charge, discharge / roundTrip);
    plan.charge[t] = clean(charge - x);
    plan.discharge[t] = clean(discharge - x * roundTrip);
    if (problem.deviation !== undefined) {
      const delivered = x * (1 - roundTrip);
      const buy = plan.buy[t] as number;
      plan.buy[t] = clean(Math.max(0, buy - delivered));
      plan.sell[t] = clean((plan.sell[t] as number) + Math.max(0, delivered - buy));
    }
    changed++;
  }
  return changed;
}

/**
 * An LP optimum may charge and discharge at once where it costs nothing: a lossless round trip,
 * or a zero price (storage model). Netting those out shows what the asset would really do and
 * changes no value. Elsewhere (a negative price with losses) it is the LP's gain, and only the MIP
 * may take it away.
 */
function isTie(problem: StorageProblem, t: number): boolean {
  const { chargeEfficiency, dischargeEfficiency } = problem.asset;
  return chargeEfficiency * dischargeEfficiency === 1 || (problem.deviation === undefined && problem.prices[t] === 0);
}

/** A feasible MIP point from a netted plan: `on_t` is 1 where it charges. */
function startValues(problem: StorageProblem, plan: Plan): Map<string, number> {
  const start = new Map<string, number>();
  for (let t = 0; t < problem.prices.length; t++) {
    start.set(col.charge(t), plan.charge[t] as number);
    start.set(col.discharge(t), plan.discharge[t] as number);
    start.set(col.soc(t), plan.soc[t] as number);
    start.set(col.charging(t), (plan.charge[t] as number) > 0 ? 1 : 0);
    if (problem.deviation !== undefined) {
      start.set(col.sell(t), plan.sell[t] as number);
      start.set(col.buy(t), plan.buy[t] as number);
    }
  }
  return start;
}

function toSchedule(problem: StorageProblem, plan: Plan, startMs: number | undefined): ScheduleRow[] {
  const stepMs = Math.round(problem.intervalHours * 3_600_000);
  const { deviation } = problem;
  return problem.prices.map((price, t) => {
    const row: ScheduleRow = {
      t,
      ...(startMs !== undefined ? { start: new Date(startMs + t * stepMs).toISOString() } : {}),
      price,
      chargeMW: plan.charge[t] as number,
      dischargeMW: plan.discharge[t] as number,
      socMWh: plan.soc[t] as number,
    };
    if (deviation !== undefined) {
      row.committedMW = deviation.committed[t] ?? 0;
      row.tradeMW = clean((plan.sell[t] as number) - (plan.buy[t] as number));
    }
    return row;
  });
}

function summarize(problem: StorageProblem, plan: Plan): EnergySummary {
  const dt = problem.intervalHours;
  const { asset, deviation } = problem;
  let energyIn = 0;
  let energyOut = 0;
  let revenue = 0;
  let traded = 0;
  problem.prices.forEach((price, t) => {
    const charge = plan.charge[t] as number;
    const discharge = plan.discharge[t] as number;
    energyIn += charge * dt;
    energyOut += discharge * dt;
    if (deviation === undefined) {
      revenue += price * (discharge - charge) * dt;
    } else {
      const sell = plan.sell[t] as number;
      const buy = plan.buy[t] as number;
      revenue += price * (sell - buy) * dt;
      traded += (sell + buy) * dt;
    }
  });
  return {
    energyInMWh: energyIn,
    energyOutMWh: energyOut,
    cycles: energyOut / asset.capacityMWh,
    revenue,
    degradationCost: asset.degradationCostPerMWh * energyOut,
    tradingFees: (deviation?.feePerMWh ?? 0) * traded,
  };
}

/** Up to 6 significant digits, without trailing zeros: 9, 0.25, 12.3457. */
function formatNumber(x: number): string {
  return String(Number(x.toPrecision(6)));
}
