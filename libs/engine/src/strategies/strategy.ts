import type { Bars } from '../bars';

export type ParamValue = number | boolean | string;
export type Params = Readonly<Record<string, ParamValue>>;

export interface ParamSpec {
  readonly name: string;
  readonly type: 'integer' | 'number' | 'boolean' | 'enum';
  readonly min?: number;
  readonly max?: number;
  readonly values?: readonly string[];
  readonly default: ParamValue;
  readonly description: string;
}

export interface StrategyInfo {
  readonly name: string;
  readonly description: string;
  readonly params: readonly ParamSpec[];
}

/**
 * A strategy's compiled, stateful signal generator for one bar series.
 *
 * The strategy decides on the close of each bar i: +1 long, -1 short, 0 flat. `run(from, to, out)`
 * covers bars [from, to) and writes only the *changes* of that decision, as pairs
 * `out[2k] = i, out[2k + 1] = decision` in increasing i, returning the number of ints written.
 * The decision before bar 0 is 0 (flat). Sparse output because decisions change rarely: the
 * executor then jumps from change to change instead of re-reading a decision per bar.
 *
 * Calls come in increasing, contiguous ranges, so indicator state (and the last decision)
 * carries over between chunks and the result does not depend on how the host chunks the run.
 * A kernel may read any column at indices <= i and never beyond: that is the no-look-ahead
 * contract (the engine fills the decision at bar i + 1's open). `out` has room for 2 × (to - from).
 *
 * One class per strategy keeps each loop monomorphic; the engine calls `run` once per chunk of
 * thousands of bars, so the polymorphic call site costs nothing measurable.
 */
export interface StrategyKernel {
  run(from: number, to: number, out: Int32Array): number;
}

/**
 * Where a strategy's warm-up ends: the first bar (0-based) on whose close it can take a position,
 * and the parameter that sets it (none for a strategy without warm-up).
 */
export interface FirstSignal {
  readonly bar: number;
  readonly param?: string;
}

export interface StrategyDefinition {
  readonly info: StrategyInfo;
  /** Cross-parameter rules; throws StrategyParamError. Receives fully resolved params. */
  readonly check: (params: Params) => void;
  /** Must agree with the kernel: before `bar` its decision is always flat. */
  readonly firstSignal: (params: Params) => FirstSignal;
  readonly createKernel: (params: Params, bars: Bars) => StrategyKernel;
}

/** Resolved params are validated before kernels see them; this narrows without re-checking. */
export function num(params: Params, name: string): number {
  const v = params[name];
  return typeof v === 'number' ? v : NaN;
}
