import { StrategyParamError, type FieldIssue } from './errors';
import { getStrategyDefinition, strategyNames } from './strategies/registry';
import type { ParamSpec, ParamValue, Params } from './strategies/strategy';

export type ResolveParamsResult = { ok: true; params: Params } | { ok: false; issues: FieldIssue[] };

function unknownStrategy(strategy: string): FieldIssue {
  return { field: 'strategy', reason: `unknown strategy "${strategy}"; known: ${strategyNames().join(', ')}` };
}

function bounds(spec: ParamSpec): string {
  if (spec.min !== undefined && spec.max !== undefined) return ` between ${spec.min} and ${spec.max}`;
  if (spec.min !== undefined) return ` >= ${spec.min}`;
  if (spec.max !== undefined) return ` <= ${spec.max}`;
  return '';
}

function inBounds(spec: ParamSpec, v: number): boolean {
  return (spec.min === undefined || v >= spec.min) && (spec.max === undefined || v <= spec.max);
}

/** The reason `value` is not acceptable for `spec`, or undefined when it is. No coercion: "10" is not 10. */
function checkValue(spec: ParamSpec, value: unknown): string | undefined {
  switch (spec.type) {
    case 'integer':
      return typeof value === 'number' && Number.isSafeInteger(value) && inBounds(spec, value)
        ? undefined
        : `must be an integer${bounds(spec)}`;
    case 'number':
      return typeof value === 'number' && Number.isFinite(value) && inBounds(spec, value) ? undefined : `must be a number${bounds(spec)}`;
    case 'boolean':
      return typeof value === 'boolean' ? undefined : 'must be a boolean';
    case 'enum':
      return typeof value === 'string' && (spec.values ?? []).includes(value)
        ? undefined
        : `must be one of: ${(spec.values ?? []).join(', ')}`;
    default: {
      const never: never = spec.type;
      return `has an unsupported type ${String(never)}`;
    }
  }
}

/**
 * Per-parameter validation against the strategy's declared specs: unknown names and wrong
 * types/bounds become issues (all of them, not just the first), missing params get defaults.
 * Cross-parameter rules are `assertStrategyParams`' job.
 */
export function resolveParams(strategy: string, params: Record<string, unknown>): ResolveParamsResult {
  const def = getStrategyDefinition(strategy);
  if (def === undefined) return { ok: false, issues: [unknownStrategy(strategy)] };
  const specs = def.info.params;
  const issues: FieldIssue[] = [];
  for (const name of Object.keys(params)) {
    if (!specs.some((s) => s.name === name)) {
      const known = specs.length === 0 ? 'none' : specs.map((s) => s.name).join(', ');
      issues.push({ field: `params.${name}`, reason: `unknown parameter; known: ${known}` });
    }
  }
  const resolved: Record<string, ParamValue> = {};
  for (const spec of specs) {
    const has = Object.prototype.hasOwnProperty.call(params, spec.name) && params[spec.name] !== undefined;
    const value = has ? params[spec.name] : spec.default;
    const reason = checkValue(spec, value);
    if (reason !== undefined) issues.push({ field: `params.${spec.name}`, reason });
    else resolved[spec.name] = value as ParamValue;
  }
  return issues.length > 0 ? { ok: false, issues } : { ok: true, params: Object.freeze(resolved) };
}

/**
 * The strategy's cross-parameter rules (e.g. sma-crossover: fast < slow). Throws
 * StrategyParamError. Expects params that passed `resolveParams`.
 */
export function assertStrategyParams(strategy: string, params: Params): void {
  const def = getStrategyDefinition(strategy);
  if (def === undefined) {
    const issue = unknownStrategy(strategy);
    throw new StrategyParamError(issue.field, issue.reason);
  }
  def.check(params);
}

/** resolveParams + assertStrategyParams, throwing the first issue (all of them in `issues`). */
export function resolveAndAssertParams(strategy: string, params: Record<string, unknown>): Params {
  const r = resolveParams(strategy, params);
  if (!r.ok) {
    const first = r.issues[0] as FieldIssue;
    const message = r.issues.map((i) => `${i.field} ${i.reason}`).join('; ');
    throw new StrategyParamError(first.field, message, { issues: r.issues });
  }
  assertStrategyParams(strategy, r.params);
  return r.params;
}

/**
 * The fewest bars a backtest of these params can trade on: the strategy's warm-up, the bar whose
 * close gives the first signal, and the next bar, whose open fills it.
 */
function minimumBars(strategy: string, params: Params): { bars: number; param?: string } {
  const def = getStrategyDefinition(strategy);
  if (def === undefined) return { bars: 2 };
  const first = def.firstSignal(params);
  return { bars: first.bar + 2, ...(first.param !== undefined ? { param: first.param } : {}) };
}

/**
 * Throws StrategyParamError when `barCount` bars leave no bar to trade on: the strategy would stay
 * flat throughout and report a run without a single trade as if it had been judged. The field is
 * the parameter that sets the warm-up (`params.slow`), or `dataset` for a strategy without one.
 */
export function assertEnoughBars(strategy: string, params: Params, barCount: number): void {
  const need = minimumBars(strategy, params);
  if (barCount >= need.bars) return;
  const available = `the dataset has ${barCount}`;
  if (need.param === undefined) {
    throw new StrategyParamError('dataset', `the strategy needs at least ${need.bars} bars; ${available}`);
  }
  const value = String(params[need.param]);
  throw new StrategyParamError(
    `params.${need.param}`,
    `${need.param} (${value}) needs at least ${need.bars} bars (its first signal comes on bar ${need.bars - 1}'s close and fills at the next bar's open); ${available}`,
  );
}
