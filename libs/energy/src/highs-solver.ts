import loadHighs, { type Highs, type Model } from 'highs';

export const SOLVE_STATUSES = ['optimal', 'time_limit', 'infeasible', 'unbounded', 'error'] as const;
export type SolveStatus = (typeof SOLVE_STATUSES)[number];

export interface LpSolveOptions {
  /** Seconds; HiGHS `time_limit`. */
  timeLimitSeconds: number;
  /** Relative MIP gap at which HiGHS may stop as optimal; HiGHS `mip_rel_gap`. */
  mipRelGap?: number;
  /** A feasible point to start a MIP from, by column name (columns left out are 0). */
  start?: ReadonlyMap<string, number>;
}

export interface LpSolution {
  status: SolveStatus;
  /** The objective of the returned values; null when there are none. */
  objectiveValue: number | null;
  /** Primal values by column name, when HiGHS has a feasible point (optimal, or a limit with an incumbent). */
  values: ReadonlyMap<string, number> | null;
  /** MIP only: the best bound on the objective HiGHS proved. */
  dualBound?: number;
  /** HiGHS's own run clock, so the core needs none. */
  solverTimeMs: number;
  /** What went wrong, for `error` (and HiGHS's wording for statuses it reports that we do not model). */
  message?: string;
}

/** Solves one model given in CPLEX LP text. Never throws: failures are `status: 'error'`. */
export type LpSolver = (lpText: string, options: LpSolveOptions) => Promise<LpSolution>;

// The Wasm runtime is loaded once per process (compiling it takes ~0.1 s) and shared by every solve.
let runtime: Promise<Highs> | undefined;

function highsRuntime(): Promise<Highs> {
  runtime ??= loadHighs();
  return runtime;
}

/**
 * After an exception inside the runtime (an Emscripten abort, a model that was never disposed),
 * its linear memory can no longer be trusted: the next solve loads a fresh instance.
 */
function discardRuntime(failed: Promise<Highs>): void {
  if (runtime === failed) runtime = undefined;
}

const FEASIBLE_POINT = 2; // HiGHS `primal_solution_status`: kSolutionStatusFeasible

/**
 * The one-shot `highs.solve()` cannot report a MIP gap, so this uses a scoped persistent model
 * (`withModel` disposes it) read from the same LP text. `threads` is deliberately absent: the Wasm
 * build is single-threaded and aborts when asked for more than one.
 */
export const highsSolver: LpSolver = async (lpText, options) => {
  const current = highsRuntime();
  let highs: Highs;
  try {
    highs = await current;
  } catch (err) {
    discardRuntime(current);
    return failed(`HiGHS could not be loaded: ${messageOf(err)}`);
  }
  try {
    return highs.withModel({ format: 'lp', data: lpText }, (model) => runModel(highs, model, options));
  } catch (err) {
    discardRuntime(current);
    return failed(`HiGHS failed: ${messageOf(err)}`);
  }
};

function runModel(highs: Highs, model: Model, options: LpSolveOptions): LpSolution {
  model.options.set({ output_flag: false, time_limit: options.timeLimitSeconds });
  if (options.mipRelGap !== undefined) model.options.set('mip_rel_gap', options.mipRelGap);
  const names = columnNames(model);
  if (options.start !== undefined) {
    const colValue = new Float64Array(names.length);
    names.forEach((name, j) => (colValue[j] = options.start?.get(name) ?? 0));
    model.setSolution({ colValue });
  }
  const { modelStatus } = model.run();
  const solverTimeMs = model.getRunTime() * 1000;
  const codes = highs.constants.modelStatus;

  let status: SolveStatus;
  let message: string | undefined;
  switch (modelStatus) {
    case codes.optimal:
      status = 'optimal';
      break;
    case codes.timeLimit:
      status = 'time_limit';
      break;
    case codes.infeasible:
      status = 'infeasible';
      break;
    case codes.unboundedOrInfeasible:
      // Every column of our models is bounded, so "or unbounded" cannot be the case.
      status = 'infeasible';
      message = 'HiGHS: infeasible or unbounded';
      break;
    case codes.unbounded:
      status = 'unbounded';
      break;
    case codes.notSet:
    case codes.loadError:
    case codes.modelError:
    case codes.presolveError:
    case codes.solveError:
    case codes.postsolveError:
    case codes.empty:
    case codes.objectiveBound:
    case codes.objectiveTarget:
    case codes.iterationLimit:
    case codes.unknown:
    case codes.solutionLimit:
    case codes.interrupted:
      // Errors, and limits these models never set.
      status = 'error';
      message = `HiGHS ended with model status ${modelStatus}`;
  }

  const hasPoint = status !== 'infeasible' && Number(model.info.get('primal_solution_status')) === FEASIBLE_POINT;
  let values: Map<string, number> | null = null;
  if (hasPoint) {
    const { colValue } = model.getSolution();
    values = new Map(names.map((name, j) => [name, colValue[j] as number]));
  }
  // HiGHS reports a dual bound of 0 for an LP, and an infinite one for a MIP that has none yet.
  const bound = isMip(model, names.length) ? Number(model.info.get('mip_dual_bound')) : NaN;
  return {
    status,
    objectiveValue: hasPoint ? model.getObjectiveValue() : null,
    values,
    ...(Number.isFinite(bound) ? { dualBound: bound } : {}),
    solverTimeMs,
    ...(message !== undefined ? { message } : {}),
  };
}

function isMip(model: Model, numCols: number): boolean {
  for (let j = 0; j < numCols; j++) if (model.getColIntegrality(j) !== 0) return true;
  return false;
}

function columnNames(model: Model): string[] {
  const names: string[] = [];
  const { numCols } = model.getDimensions();
  for (let j = 0; j < numCols; j++) names.push(model.getColName(j));
  return names;
}

function failed(message: string): LpSolution {
  return { status: 'error', objectiveValue: null, values: null, solverTimeMs: 0, message };
}

function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
