import { EngineError, type FieldIssue } from './errors';
import { resolveParams } from './params';
import { getStrategyInfo } from './strategies/registry';
import type { ParamValue, Params } from './strategies/strategy';

/**
 * Optimization grids: axes → the ordered list of parameter combinations that satisfy the
 * constraints. Constraints use a small expression grammar (parsed here, never `eval`):
 *
 *   expr    := or
 *   or      := and (('||' | 'or') and)*
 *   and     := not (('&&' | 'and') not)*
 *   not     := ('!' | 'not') not | cmp
 *   cmp     := sum (('<' | '<=' | '>' | '>=' | '==' | '!=') sum)?
 *   sum     := product (('+' | '-') product)*
 *   product := unary (('*' | '/' | '%') unary)*
 *   unary   := '-' unary | atom
 *   atom    := number | parameter name | 'true' | 'false' | '(' expr ')'
 *
 * e.g. `fast < slow`, `slow >= 2 * fast && fast != 7`. Booleans count as 1/0.
 */
export type Axis = { readonly min: number; readonly max: number; readonly step: number } | readonly ParamValue[];

export class ConstraintSyntaxError extends EngineError {
  constructor(
    readonly expression: string,
    readonly position: number,
    detail: string,
  ) {
    super('CONSTRAINT_INVALID', `${detail} at position ${position + 1} of "${expression}"`);
    this.name = 'ConstraintSyntaxError';
  }
}

type Node = (p: Readonly<Record<string, ParamValue>>) => number;

interface Token {
  readonly kind: 'num' | 'id' | 'op' | 'end';
  readonly text: string;
  readonly pos: number;
}

const OPERATORS = ['<=', '>=', '==', '!=', '&&', '||', '<', '>', '+', '-', '*', '/', '%', '(', ')', '!'];

function tokenize(src: string): Token[] {
  const out: Token[] = [];
  let i = 0;
  while (i < src.length) {
    const c = src[i] as string;
    if (/\s/.test(c)) {
      i++;
      continue;
    }
    const num = /^(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?/.exec(src.slice(i));
    if (num) {
      out.push({ kind: 'num', text: num[0], pos: i });
      i += num[0].length;
      continue;
    }
    const id = /^[A-Za-z_][A-Za-z0-9_]*/.exec(src.slice(i));
    if (id) {
      out.push({ kind: 'id', text: id[0], pos: i });
      i += id[0].length;
      continue;
    }
    const op = OPERATORS.find((o) => src.startsWith(o, i));
    if (!op) throw new ConstraintSyntaxError(src, i, `unexpected character "${c}"`);
    out.push({ kind: 'op', text: op, pos: i });
    i += op.length;
  }
  out.push({ kind: 'end', text: '', pos: src.length });
  return out;
}

/** Whether a value counts as true: non-zero, and not NaN (e.g. 0 / 0 never satisfies a constraint). */
const truth = (v: number): number => (v !== 0 && !Number.isNaN(v) ? 1 : 0);
const num = (v: ParamValue | undefined): number =>
  typeof v === 'boolean' ? (v ? 1 : 0) : typeof v === 'number' ? v : NaN;

/**
 * Parses a constraint into an evaluator over a parameter set; names must be in `known`, and not in
 * `notComparable` (parameters whose values are not numbers or booleans, e.g. enums). The whole
 * expression must be a condition (a comparison, `!`, `&&`, `||`, true/false), not a bare number.
 */
export function parseConstraint(
  src: string,
  known: readonly string[],
  notComparable: readonly string[] = [],
): (params: Readonly<Record<string, ParamValue>>) => boolean {
  const tokens = tokenize(src);
  let k = 0;
  /** Nodes that yield a truth value (1/0) rather than a number. */
  const conditions = new WeakSet<Node>();
  const condition = (n: Node): Node => {
    conditions.add(n);
    return n;
  };
  const peek = (): Token => tokens[k] as Token;
  const is = (...texts: string[]): boolean => {
    const t = peek();
    return (t.kind === 'op' || t.kind === 'id') && texts.includes(t.text);
  };
  const next = (): Token => tokens[k++] as Token;

  const or = (): Node => {
    let left = and();
    while (is('||', 'or')) {
      next();
      const l = left;
      const r = and();
      left = condition((p) => (truth(l(p)) || truth(r(p)) ? 1 : 0));
    }
    return left;
  };
  const and = (): Node => {
    let left = not();
    while (is('&&', 'and')) {
      next();
      const l = left;
      const r = not();
      left = condition((p) => (truth(l(p)) && truth(r(p)) ? 1 : 0));
    }
    return left;
  };
  const not = (): Node => {
    if (is('!', 'not')) {
      next();
      const inner = not();
      return condition((p) => (truth(inner(p)) ? 0 : 1));
    }
    return cmp();
  };
  const cmp = (): Node => {
    const left = sum();
    if (is('<', '<=', '>', '>=', '==', '!=')) {
      const op = next().text;
      const right = sum();
      switch (op) {
        case '<':
          return condition((p) => (left(p) < right(p) ? 1 : 0));
        case '<=':
          return condition((p) => (left(p) <= right(p) ? 1 : 0));
        case '>':
          return condition((p) => (left(p) > right(p) ? 1 : 0));
        case '>=':
          return condition((p) => (left(p) >= right(p) ? 1 : 0));
        case '==':
          return condition((p) => (left(p) === right(p) ? 1 : 0));
        default:
          return condition((p) => (left(p) !== right(p) ? 1 : 0));
      }
    }
    return left;
  };
  const sum = (): Node => {
    let left = product();
    while (is('+', '-')) {
      const op = next().text;
      const l = left;
      const r = product();
      left = op === '+' ? (p) => l(p) + r(p) : (p) => l(p) - r(p);
    }
    return left;
  };
  const product = (): Node => {
    let left = unary();
    while (is('*', '/', '%')) {
      const op = next().text;
      const l = left;
      const r = unary();
      left = op === '*' ? (p) => l(p) * r(p) : op === '/' ? (p) => l(p) / r(p) : (p) => l(p) % r(p);
    }
    return left;
  };
  const unary = (): Node => {
    if (is('-')) {
      next();
      const inner = unary();
      return (p) => -inner(p);
    }
    return atom();
  };
  const atom = (): Node => {
    const t = next();
    if (t.kind === 'num') {
      const v = Number(t.text);
      return () => v;
    }
    if (t.kind === 'id') {
      if (t.text === 'true') return condition(() => 1);
      if (t.text === 'false') return condition(() => 0);
      if (notComparable.includes(t.text)) {
        throw new ConstraintSyntaxError(
          src,
          t.pos,
          `parameter "${t.text}" is not a number or boolean; constraints compare numbers`,
        );
      }
      if (!known.includes(t.text)) {
        throw new ConstraintSyntaxError(src, t.pos, `unknown parameter "${t.text}" (known: ${known.join(', ')})`);
      }
      const name = t.text;
      return (p) => num(p[name]);
    }
    if (t.kind === 'op' && t.text === '(') {
      const inner = or();
      const close = next();
      if (close.text !== ')') throw new ConstraintSyntaxError(src, close.pos, 'expected ")"');
      return inner;
    }
    throw new ConstraintSyntaxError(
      src,
      t.pos,
      t.kind === 'end' ? 'unexpected end of expression' : `unexpected "${t.text}"`,
    );
  };

  const root = or();
  const end = peek();
  if (end.kind !== 'end') throw new ConstraintSyntaxError(src, end.pos, `unexpected "${end.text}"`);
  if (!conditions.has(root)) {
    throw new ConstraintSyntaxError(src, 0, 'a constraint must compare, e.g. "fast < slow"; this one is only a value,');
  }
  return (params) => truth(root(params)) === 1;
}

/** Hard ceiling on the raw (unconstrained) grid, so a typo can't make the server enumerate billions. */
export const MAX_RAW_GRID = 5_000_000;

export interface GridPlan {
  /** Axis names in enumeration order (first varies slowest). */
  readonly names: readonly string[];
  readonly values: readonly (readonly ParamValue[])[];
  readonly rawSize: number;
  /** Fixed (non-axis) parameters, defaults filled in. */
  readonly fixed: Params;
  readonly constraints: readonly ((p: Readonly<Record<string, ParamValue>>) => boolean)[];
}

function expandAxis(axis: Axis): ParamValue[] {
  if (Array.isArray(axis)) return [...(axis as readonly ParamValue[])];
  const { min, max, step } = axis as { min: number; max: number; step: number };
  const count = Math.floor((max - min) / step + 1e-9) + 1;
  const out: number[] = [];
  // Multiply rather than accumulate so 0.1 steps don't drift; round off binary noise.
  for (let i = 0; i < count; i++) out.push(Math.round((min + i * step) * 1e9) / 1e9);
  return out;
}

/**
 * Validates axes against the strategy's declared parameters and compiles the constraints.
 * Returns field issues (`axes.fast`, `constraints[0]`…) rather than throwing.
 */
export function planGrid(
  strategy: string,
  axes: Readonly<Record<string, Axis>>,
  fixedParams: Readonly<Record<string, unknown>>,
  constraints: readonly string[],
): { ok: true; plan: GridPlan } | { ok: false; issues: FieldIssue[] } {
  const info = getStrategyInfo(strategy);
  if (!info) {
    const known = resolveParams(strategy, {});
    return { ok: false, issues: known.ok ? [] : known.issues };
  }
  const issues: FieldIssue[] = [];
  const names = Object.keys(axes);
  const values: ParamValue[][] = [];
  for (const name of names) {
    const spec = info.params.find((p) => p.name === name);
    if (!spec) {
      issues.push({
        field: `axes.${name}`,
        reason: `unknown parameter; known: ${info.params.map((p) => p.name).join(', ') || 'none'}`,
      });
      values.push([]);
      continue;
    }
    if (Object.prototype.hasOwnProperty.call(fixedParams, name)) {
      issues.push({ field: `params.${name}`, reason: 'is also an axis; give it in one place only' });
    }
    const axis = axes[name] as Axis;
    if (!Array.isArray(axis)) {
      const r = axis as { min: number; max: number; step: number };
      if (spec.type !== 'integer' && spec.type !== 'number') {
        issues.push({ field: `axes.${name}`, reason: `a ${spec.type} parameter takes a list of values, not a range` });
        values.push([]);
        continue;
      }
      if (spec.type === 'integer' && ![r.min, r.max, r.step].every(Number.isInteger)) {
        issues.push({ field: `axes.${name}`, reason: 'min, max and step of an integer parameter must be integers' });
        values.push([]);
        continue;
      }
      if ((r.max - r.min) / r.step > MAX_RAW_GRID) {
        issues.push({ field: `axes.${name}.step`, reason: `the range has more than ${MAX_RAW_GRID} values` });
        values.push([]);
        continue;
      }
    }
    const expanded = expandAxis(axis);
    const isRange = !Array.isArray(axis);
    // A range is increasing and the declared bounds are an interval, so its two ends stand for
    // every value (checking each one cost ~3 s for a 5M-value axis); a list is checked whole.
    const checked = isRange && expanded.length > 2 ? [expanded[0], expanded[expanded.length - 1]] : expanded;
    const bad = checked.find((v) => {
      const r = resolveParams(strategy, { [name]: v });
      return !r.ok && r.issues.some((i) => i.field === `params.${name}`);
    });
    if (bad !== undefined) {
      const r = resolveParams(strategy, { [name]: bad });
      const reason = r.ok ? 'invalid' : (r.issues.find((i) => i.field === `params.${name}`)?.reason ?? 'invalid');
      issues.push({ field: `axes.${name}`, reason: `value ${JSON.stringify(bad)} ${reason}` });
    }
    // A range's values collide only when rounding (to 1e-9) merges neighbours: a linear scan.
    const distinct = isRange
      ? expanded.every((v, i) => i === 0 || v !== expanded[i - 1])
      : new Set(expanded).size === expanded.length;
    if (!distinct) issues.push({ field: `axes.${name}`, reason: 'values must be distinct' });
    values.push(expanded);
  }
  const fixedInput = Object.fromEntries(Object.entries(fixedParams).filter(([n]) => !names.includes(n)));
  const fixedResolved = resolveParams(strategy, fixedInput);
  if (!fixedResolved.ok) issues.push(...fixedResolved.issues);
  const known = info.params.map((p) => p.name);
  const notComparable = info.params.filter((p) => p.type === 'enum').map((p) => p.name);
  const compiled: ((p: Readonly<Record<string, ParamValue>>) => boolean)[] = [];
  constraints.forEach((c, i) => {
    try {
      compiled.push(parseConstraint(c, known, notComparable));
    } catch (err) {
      if (err instanceof ConstraintSyntaxError) issues.push({ field: `constraints.${i}`, reason: err.message });
      else throw err;
    }
  });
  if (issues.length > 0 || !fixedResolved.ok) return { ok: false, issues };
  const rawSize = values.reduce((n, v) => n * v.length, 1);
  if (rawSize > MAX_RAW_GRID) {
    return {
      ok: false,
      issues: [
        {
          field: 'axes',
          reason: `the grid has ${rawSize} combinations before constraints; the limit is ${MAX_RAW_GRID}`,
        },
      ],
    };
  }
  const fixed: Record<string, ParamValue> = {};
  for (const [n, v] of Object.entries(fixedResolved.params)) if (!names.includes(n)) fixed[n] = v;
  return { ok: true, plan: { names, values, rawSize, fixed: Object.freeze(fixed), constraints: compiled } };
}

/**
 * Steps through the raw grid in order (first axis slowest), one combination at a time, in a single
 * params object it rewrites (no allocation per combination).
 */
class GridWalker {
  readonly params: Record<string, ParamValue>;
  private readonly idx: number[];
  private started = false;
  private done: boolean;

  constructor(private readonly plan: GridPlan) {
    this.params = { ...plan.fixed };
    this.idx = new Array<number>(plan.names.length).fill(0);
    this.done = plan.values.some((v) => v.length === 0);
  }

  /** Moves to the next combination; false once the grid is exhausted. */
  next(): boolean {
    if (this.done) return false;
    const { names, values } = this.plan;
    if (this.started) {
      let a = names.length - 1;
      while (a >= 0) {
        this.idx[a] = (this.idx[a] as number) + 1;
        if ((this.idx[a] as number) < (values[a] as ParamValue[]).length) break;
        this.idx[a] = 0;
        a--;
      }
      if (a < 0) {
        this.done = true;
        return false;
      }
    }
    this.started = true;
    for (let a = 0; a < names.length; a++)
      this.params[names[a] as string] = (values[a] as ParamValue[])[this.idx[a] as number] as ParamValue;
    return true;
  }

  get accepted(): boolean {
    return this.plan.constraints.every((c) => c(this.params));
  }
}

/**
 * Visits every combination that satisfies the constraints, in a fixed order (first axis slowest),
 * with its index among the accepted combinations. Returns the number accepted.
 */
export function forEachCombination(plan: GridPlan, visit?: (params: Params, index: number) => void): number {
  // Only counting, and nothing to filter: the product of the axes.
  if (visit === undefined && plan.constraints.length === 0) return plan.rawSize;
  const walker = new GridWalker(plan);
  let accepted = 0;
  while (walker.next()) {
    if (!walker.accepted) continue;
    visit?.(Object.freeze({ ...walker.params }), accepted);
    accepted++;
  }
  return accepted;
}

/**
 * The number of combinations that satisfy the constraints, returning to the event loop every
 * `yieldEvery` combinations: a server counting a 5M-point grid stays responsive meanwhile.
 */
export async function countCombinations(plan: GridPlan, yieldEvery = 100_000): Promise<number> {
  if (plan.constraints.length === 0) return plan.rawSize;
  const walker = new GridWalker(plan);
  let accepted = 0;
  for (let n = 1; walker.next(); n++) {
    if (walker.accepted) accepted++;
    if (n % yieldEvery === 0) await new Promise((resolve) => setImmediate(resolve));
  }
  return accepted;
}

/** All accepted combinations, in order. */
export function enumerateGrid(plan: GridPlan): Params[] {
  const out: Params[] = [];
  forEachCombination(plan, (p) => out.push(p));
  return out;
}
