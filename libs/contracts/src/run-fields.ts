import type { RunKind, RunStatus, TriggeredBy } from './run-vocabulary';
import type { Principal } from './access-vocabulary';

/**
 * The one declaration of a run's read-model fields: name, type and how the `runs` table stores it.
 * `RunView` (the fold's state), the row codec (projection, verify, gateway), the TypeORM entity and
 * the API answers are all derived from this table. No imports but types: the dashboard reads it too.
 */

/** How a field is stored in the `runs` table (its column is the field's name in snake_case). */
export type StoredAs = 'text' | 'jsonb' | 'json' | 'integer' | 'bigint' | 'timestamptz';

/** A field's storage, and its TypeScript type `T` (carried by the type only, never at run time). */
export interface RunField<T, S extends StoredAs = StoredAs> {
  readonly stored: S;
  readonly nullable: boolean;
  readonly _type?: T;
}

const field = <T, S extends StoredAs>(stored: S): RunField<T, S> => ({ stored, nullable: false });
const text = <T extends string>(): RunField<T, 'text'> => field('text');
const jsonb = <T>(): RunField<T, 'jsonb'> => field('jsonb');
/**
 * JSON kept as its text (Postgres `json`): for a large value nothing queries into, which Postgres
 * then neither parses into jsonb on each write nor prints back on each read.
 */
const json = <T>(): RunField<T, 'json'> => field('json');
const integer = (): RunField<number, 'integer'> => field('integer');
/** pg answers bigint as a string; stream sequences, bar counts and milliseconds fit in a double. */
const bigint = (): RunField<number, 'bigint'> => field('bigint');
/** An ISO-8601 instant in the view, a `Date` in the entity. */
const instant = (): RunField<string, 'timestamptz'> => field('timestamptz');
const orNull = <T, S extends StoredAs>(f: RunField<T, S>): RunField<T | null, S> => ({ ...f, nullable: true });

type Json = Record<string, unknown>;

export const RUN_FIELDS = {
  id: text<string>(),
  kind: text<RunKind>(),
  status: text<RunStatus>(),
  strategy: text<string>(),
  params: jsonb<Json>(),
  request: jsonb<Json>(),
  dataset: jsonb<Json>(),
  totalBars: bigint(),
  processedBars: bigint(),
  totalCombinations: orNull(integer()),
  completedCombinations: integer(),
  failedCombinations: integer(),
  attempt: integer(),
  priority: text<string>(),
  workerId: orNull(text<string>()),
  triggeredBy: text<TriggeredBy>(),
  scheduleId: orNull(text<string>()),
  retryOf: orNull(text<string>()),
  /** Who asked for the run (`RunRequested.principal`); null for runs recorded before principals were. */
  principal: orNull(jsonb<Principal>()),
  traceId: orNull(text<string>()),
  errorMessage: orNull(text<string>()),
  errorStackTrace: orNull(text<string>()),
  errorCode: orNull(text<string>()),
  failureReason: orNull(text<string>()),
  /** A backtest's result holds its equity curve (~1,000 points, ~48 KB): stored as text. */
  result: orNull(json<Json>()),
  requestedAt: instant(),
  startedAt: orNull(instant()),
  completedAt: orNull(instant()),
  cancelRequestedAt: orNull(instant()),
  /**
   * When the run last made progress: a bar count that moved, or a trial outcome that counted (event
   * time, the latest seen). Null until then.
   */
  lastProgressAt: orNull(instant()),
  /**
   * The longest wait between two such moments so far, the wait from the start to the first one
   * included (ms): the run's own pace, against which a silence counts as a stall.
   */
  longestProgressGapMs: bigint(),
  updatedAt: instant(),
  /** Stream sequence of the last event applied to the run. */
  lastSeq: bigint(),
  /** 0–100, whatever the kind counts (bars, combinations, a program's own percent); 100 once completed. */
  progress: integer(),
  /** From the start to the end of the run (ms); null until it ended, and for a run that never started. */
  durationMs: orNull(bigint()),
  /** Log lines recorded for the run (every level), so listings can say how much a run said. */
  logCount: integer(),
} as const;

type Fields = typeof RUN_FIELDS;
export type RunFieldName = keyof Fields;
type TypeOf<F> = F extends RunField<infer T> ? T : never;

/**
 * The read model of one run, as folded from its events by `evolveRun` (see run-view.ts) and stored
 * one column a field in `runs`.
 */
export type RunView = { -readonly [K in RunFieldName]: TypeOf<Fields[K]> };

/** The fields stored as `timestamptz`: ISO strings in the view, `Date`s in a TypeORM entity. */
type InstantField = {
  [K in RunFieldName]: Fields[K] extends RunField<unknown, 'timestamptz'> ? K : never;
}[RunFieldName];

/** A run as TypeORM hydrates its `runs` row (see `RunRow` in @runforge/read-models). */
export type RunRecord = {
  -readonly [K in RunFieldName]: K extends InstantField ? Date | Extract<RunView[K], null> : RunView[K];
};

export const RUN_FIELD_NAMES = Object.keys(RUN_FIELDS) as RunFieldName[];

/** The `runs` column of a field: its name in snake_case (`totalBars` → `total_bars`). */
export function runColumnOf(name: RunFieldName): string {
  return name.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
}

/** Every column of `runs`, in field order: the order of `runToColumns`' values. */
export const RUN_COLUMNS: readonly string[] = RUN_FIELD_NAMES.map(runColumnOf);

/**
 * A run read from a `runs` row as pg answers it, keyed by column (`SELECT *` or any subset that
 * holds `fields`): timestamps become ISO strings, bigints numbers.
 */
export function runFromColumns<K extends RunFieldName = RunFieldName>(
  row: Readonly<Record<string, unknown>>,
  fields: readonly K[] = RUN_FIELD_NAMES as K[],
): Pick<RunView, K> {
  const run: Record<string, unknown> = {};
  for (const name of fields) {
    const value = row[runColumnOf(name)];
    const stored = RUN_FIELDS[name].stored;
    if (value instanceof Date) run[name] = value.toISOString();
    else if (stored === 'bigint' && value !== null && value !== undefined) run[name] = Number(value);
    else run[name] = value;
  }
  return run as Pick<RunView, K>;
}

/**
 * Postgres text (and jsonb) cannot hold U+0000, which a recorded fact may carry (a program's output,
 * an error message): it is stored as U+FFFD, and compared so by verify. The read model never refuses
 * a fact for it.
 */
export function storableText(text: string): string {
  return text.includes('\0') ? text.replaceAll('\0', '\uFFFD') : text;
}

/**
 * `value` as jsonb text, its strings made storable (see `storableText`). JSON writes a NUL as the
 * escape `\u0000`, so text without that sequence has none; only then is the value walked again with
 * a replacer (a replacer on every value costs as much as the stringify itself, on every result).
 */
export function storableJson(value: unknown): string {
  const text = JSON.stringify(value);
  if (text === undefined || !text.includes('\\u0000')) return text;
  return JSON.stringify(value, (_key, v: unknown) => (typeof v === 'string' ? storableText(v) : v));
}

/** A run's values for the columns of `RUN_COLUMNS`, in that order, as pg parameters. */
export function runToColumns(run: RunView): unknown[] {
  return RUN_FIELD_NAMES.map((name) => {
    const value = run[name];
    if (value === null) return value;
    const stored = RUN_FIELDS[name].stored;
    if (stored === 'jsonb' || stored === 'json') return storableJson(value);
    return typeof value === 'string' ? storableText(value) : value;
  });
}

/** The named fields of a run, in the order named. */
export function pickRun<K extends RunFieldName>(run: Pick<RunView, K>, fields: readonly K[]): Pick<RunView, K> {
  const picked: Partial<Pick<RunView, K>> = {};
  for (const name of fields) picked[name] = run[name];
  return picked as Pick<RunView, K>;
}
