/**
 * A run request built from `runforge submit` flags. Nothing is judged here that the gateway
 * judges: a missing or wrong field comes back as its 400, naming the field.
 */

export interface SubmitFlags {
  strategy?: string;
  /** `name=value`, repeatable: the run's `params`. */
  param?: string[];
  /** `name=min:max:step` or `name=a,b,c`, repeatable: an optimization's `axes`. */
  axis?: string[];
  constraint?: string[];
  /** `metric` or `metric:maximize|minimize`. */
  objective?: string;
  /** A synthetic dataset: bars, seed and timeframe. */
  bars?: string;
  seed?: string;
  timeframe?: string;
  /** An uploaded dataset, optionally windowed. */
  dataset?: string;
  from?: string;
  to?: string;
  priority?: string;
  /** `path=value`, repeatable: any other field of the request (`model_config.time_limit=30`). */
  set?: string[];
}

/** A flag's problem, named as the flag. */
export class FlagError extends Error {
  constructor(
    readonly flag: string,
    reason: string,
  ) {
    super(`${flag}: ${reason}`);
  }
}

/** A value as typed: JSON when it parses (numbers, booleans, lists, objects), else the text itself. */
export function literal(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return text;
  }
}

function splitPair(flag: string, pair: string): [string, string] {
  const at = pair.indexOf('=');
  if (at <= 0) throw new FlagError(flag, `expected name=value, got "${pair}"`);
  return [pair.slice(0, at), pair.slice(at + 1)];
}

/** Sets `value` at the dotted `path` of `target`, making the objects on the way. */
export function setPath(target: Record<string, unknown>, path: string, value: unknown): void {
  const keys = path.split('.');
  let node = target;
  for (const key of keys.slice(0, -1)) {
    const next = node[key];
    if (next === null || typeof next !== 'object' || Array.isArray(next)) node[key] = {};
    node = node[key] as Record<string, unknown>;
  }
  node[keys[keys.length - 1] as string] = value;
}

/** `5:50:5` → {min, max, step}; `5,10,20` → [5, 10, 20] (each value as typed). */
export function axisOf(spec: string): unknown {
  const range = /^(-?[\d.]+):(-?[\d.]+):(-?[\d.]+)$/.exec(spec);
  if (range) return { min: Number(range[1]), max: Number(range[2]), step: Number(range[3]) };
  return spec.split(',').map((v) => literal(v.trim()));
}

/** The request the flags describe, on top of `base` (a `--file`'s request, or nothing). */
export function requestFromFlags(flags: SubmitFlags, base: Record<string, unknown> = {}): Record<string, unknown> {
  const request: Record<string, unknown> = structuredClone(base);
  if (flags.strategy) request.strategy = flags.strategy;
  for (const pair of flags.param ?? []) {
    const [name, value] = splitPair('--param', pair);
    setPath(request, `params.${name}`, literal(value));
  }
  for (const pair of flags.axis ?? []) {
    const [name, spec] = splitPair('--axis', pair);
    setPath(request, `axes.${name}`, axisOf(spec));
  }
  if (flags.constraint?.length) request.constraints = [...flags.constraint];
  if (flags.objective) {
    const [metric, direction] = flags.objective.split(':');
    request.objective = direction ? { metric, direction } : { metric };
  }
  if (flags.bars !== undefined || flags.seed !== undefined || flags.timeframe !== undefined) {
    request.dataset = {
      synthetic: {
        bars: literal(flags.bars ?? '10000'),
        seed: literal(flags.seed ?? '1'),
        timeframe: flags.timeframe ?? '1h',
      },
    };
  }
  if (flags.dataset !== undefined) {
    request.dataset = {
      id: flags.dataset,
      ...(flags.from !== undefined ? { from: literal(flags.from) } : {}),
      ...(flags.to !== undefined ? { to: literal(flags.to) } : {}),
    };
  }
  if (flags.priority) request.priority = flags.priority;
  for (const pair of flags.set ?? []) {
    const [path, value] = splitPair('--set', pair);
    setPath(request, path, literal(value));
  }
  return request;
}

/** `--since`: an ISO instant, or a span back from `now` (`30m`, `2h`, `7d`). */
export function sinceToInstant(since: string, now: number): string {
  const span = /^(\d+)\s*(s|m|h|d|w)$/.exec(since.trim());
  if (span) {
    const unit = { s: 1, m: 60, h: 3600, d: 86_400, w: 604_800 }[span[2] as 's' | 'm' | 'h' | 'd' | 'w'];
    return new Date(now - Number(span[1]) * unit * 1000).toISOString();
  }
  const at = Date.parse(since);
  if (Number.isNaN(at))
    throw new FlagError('--since', `expected a span like 30m, 2h, 7d or an ISO-8601 time, got "${since}"`);
  return new Date(at).toISOString();
}
