import { readFile } from 'node:fs/promises';
import { delimiter, dirname, resolve } from 'node:path';
import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import { parseDocument } from 'yaml';
import { z } from 'zod';
import type { FieldIssue } from '@runforge/contracts';

/**
 * The program kinds a worker declares (JOBS.md "Program kinds"): a YAML or JSON file (YAML 1.2
 * reads JSON as is) whose path the worker takes from `RUNFORGE_PROGRAM_KINDS`. The API can only
 * name a declared kind; the command line lives here, on the worker's side.
 */

export const PROGRAM_KIND_NAME = /^[a-z][a-z0-9-]{1,40}$/;

/** Names the worker runs itself (the built-in backtest and optimization, the energy models). */
export const BUILT_IN_KIND_NAMES: ReadonlySet<string> = new Set(['backtest', 'optimization', 'dmo', 'rmo', 'so']);

const KiB = 1024;
const MiB = 1024 * KiB;

/** What one run's output may cost the worker and the run's stream. */
const LimitsSchema = z
  .object({
    /** A longer stdout/stderr line is cut (a RESULT line has its own bound, below). */
    maxLineBytes: z
      .number()
      .int()
      .min(64)
      .max(1 * MiB)
      .default(4 * KiB),
    /** Log lines beyond this in one second are dropped and counted. */
    maxLinesPerSecond: z.number().int().min(1).max(100_000).default(200),
    /** Once the run has logged this much, further log lines are dropped (progress and result still count). */
    maxLogBytes: z
      .number()
      .int()
      .min(1 * KiB)
      .max(1024 * MiB)
      .default(1 * MiB),
    /** A `RESULT:` line longer than this is ignored with a warning (it travels in one event: NATS's max_payload is 1 MB). */
    maxResultBytes: z
      .number()
      .int()
      .min(1 * KiB)
      .max(8 * MiB)
      .default(256 * KiB),
  })
  .strict();
export type ProgramLimits = z.output<typeof LimitsSchema>;

const isTimeZone = (tz: string): boolean => {
  try {
    new Intl.DateTimeFormat('en', { timeZone: tz });
    return true;
  } catch {
    return false;
  }
};

const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

const ProgramKindSchema = z
  .object({
    command: z
      .array(z.string({ error: 'expected a non-empty string' }).min(1, 'expected a non-empty string'), {
        error: 'expected a non-empty array',
      })
      .min(1, 'expected a non-empty array'),
    description: z.string().max(500).optional(),
    /** A JSON Schema for the request's `params` (checked by compiling it, below). */
    params: z.record(z.string(), z.unknown(), { error: 'expected a JSON Schema object' }).optional(),
    timeoutSeconds: z
      .number()
      .int()
      .min(1)
      .max(7 * 86_400)
      .default(3600),
    stallSeconds: z.number().min(1).max(86_400).optional(),
    heartbeatSeconds: z.number().min(0.2).max(60).default(2),
    maxRetries: z.number().int().min(0).max(20).default(0),
    /** false: a timeout is final; true: a timed-out attempt is abandoned and retried like a lost one. */
    retryOnTimeout: z.boolean().default(false),
    /** Between SIGTERM and SIGKILL. */
    graceSeconds: z.number().min(0).max(600).default(5),
    env: z
      .record(z.string(), z.string({ error: 'expected a string (quote numbers in YAML)' }))
      .superRefine((env, ctx) => {
        for (const key of Object.keys(env)) {
          if (!ENV_NAME.test(key)) ctx.addIssue({ code: 'custom', path: [key], message: 'not a valid variable name' });
          else if (key.startsWith('RUNFORGE_')) {
            ctx.addIssue({ code: 'custom', path: [key], message: 'RUNFORGE_* variables are set by the worker' });
          }
        }
      })
      .default({}),
    /** Relative to the config file's folder, which is also the default. */
    cwd: z.string().min(1).optional(),
    maxRunsPerWindow: z
      .object({
        count: z.number().int().min(1).max(1_000_000),
        /** A calendar day in `timeZone` (UTC unless given), 23 or 25 hours long across DST. */
        window: z.enum(['day'], { error: 'only "day" windows are supported' }),
        timeZone: z.string().refine(isTimeZone, { message: 'not an IANA time zone' }).optional(),
      })
      .strict()
      .optional(),
    limits: LimitsSchema.prefault({}),
  })
  .strict();

const ConfigFileSchema = z
  .object({ kinds: z.record(z.string(), z.unknown(), { error: 'expected a map of kind name to declaration' }) })
  .strict();

type KindFields = Omit<z.output<typeof ProgramKindSchema>, 'params' | 'cwd'>;

export interface DeclaredProgramKind extends Readonly<KindFields> {
  readonly name: string;
  /** Absolute: the declared `cwd` resolved against the config file's folder. */
  readonly cwd: string;
  /** The declared JSON Schema of the request's params, if any. */
  readonly paramsSchema?: Readonly<Record<string, unknown>>;
  /** Checks a request's params against the kind's schema: [] when they fit (or no schema is declared). */
  readonly validateParams: (params: unknown) => FieldIssue[];
}

export type ProgramKinds = ReadonlyMap<string, DeclaredProgramKind>;

export class ProgramKindsConfigError extends Error {
  override readonly name = 'ProgramKindsConfigError';
  constructor(
    readonly code: 'PROGRAM_KINDS_UNREADABLE' | 'PROGRAM_KINDS_INVALID',
    readonly file: string,
    readonly issues: readonly FieldIssue[],
    options?: { cause?: unknown },
  ) {
    super(`${file}: ${issues.map((i) => (i.field ? `${i.field}: ${i.reason}` : i.reason)).join('; ')}`, options);
  }
}

/**
 * Reads and validates the program kinds of one file, or of several separated by the platform's path
 * delimiter (`a.yaml:b.yaml`, as in PATH): their kinds together, a name declared twice refused
 * naming both files.
 */
export async function loadProgramKinds(files: string): Promise<ProgramKinds> {
  const merged = new Map<string, DeclaredProgramKind>();
  const from = new Map<string, string>();
  for (const file of files.split(delimiter).filter(Boolean)) {
    for (const [name, kind] of await loadProgramKindsFile(file)) {
      const earlier = from.get(name);
      if (earlier !== undefined) {
        throw new ProgramKindsConfigError('PROGRAM_KINDS_INVALID', resolve(file), [
          { field: `kinds.${name}`, reason: `already declared in ${earlier}` },
        ]);
      }
      merged.set(name, kind);
      from.set(name, resolve(file));
    }
  }
  return merged;
}

/** Reads and validates one program kinds file (YAML or JSON). */
async function loadProgramKindsFile(file: string): Promise<ProgramKinds> {
  const path = resolve(file);
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (cause) {
    const reason = cause instanceof Error ? cause.message : String(cause);
    throw new ProgramKindsConfigError('PROGRAM_KINDS_UNREADABLE', path, [{ field: '', reason }], { cause });
  }
  return parseProgramKinds(text, path);
}

/** Parses a program kinds document; `file` names it in errors and its folder anchors relative `cwd`s. */
export function parseProgramKinds(text: string, file: string): ProgramKinds {
  const doc = parseDocument(text, { prettyErrors: true });
  if (doc.errors.length > 0) {
    throw new ProgramKindsConfigError(
      'PROGRAM_KINDS_INVALID',
      file,
      // The first line says what and where ("… at line 3, column 3:"); the rest is a drawing of the spot.
      doc.errors.map((e) => ({
        field: '',
        reason: `not valid YAML/JSON: ${e.message.split('\n', 1)[0]?.replace(/:$/, '')}`,
      })),
    );
  }
  const top = ConfigFileSchema.safeParse(doc.toJS() ?? {}); // an empty file reads as null
  if (!top.success) throw new ProgramKindsConfigError('PROGRAM_KINDS_INVALID', file, zodIssues(top.error, ''));

  const baseDir = dirname(resolve(file));
  const kinds = new Map<string, DeclaredProgramKind>();
  const issues: FieldIssue[] = [];
  for (const [name, raw] of Object.entries(top.data.kinds)) {
    const declared = declareProgramKind(name, raw, baseDir);
    if (declared.ok) kinds.set(name, declared.kind);
    else issues.push(...declared.issues);
  }
  if (issues.length > 0) throw new ProgramKindsConfigError('PROGRAM_KINDS_INVALID', file, issues);
  return kinds;
}

/** Validates one kind's declaration; issues are named `kinds.<name>.<field>`. */
export function declareProgramKind(
  name: string,
  raw: unknown,
  baseDir: string,
): { ok: true; kind: DeclaredProgramKind } | { ok: false; issues: FieldIssue[] } {
  const prefix = `kinds.${name}`;
  if (!PROGRAM_KIND_NAME.test(name)) {
    return { ok: false, issues: [{ field: prefix, reason: `a kind's name must match ${String(PROGRAM_KIND_NAME)}` }] };
  }
  if (BUILT_IN_KIND_NAMES.has(name)) {
    return { ok: false, issues: [{ field: prefix, reason: 'is the name of a built-in kind' }] };
  }
  const parsed = ProgramKindSchema.safeParse(raw);
  if (!parsed.success) return { ok: false, issues: zodIssues(parsed.error, prefix) };

  const { params, cwd, ...fields } = parsed.data;
  let validateParams: DeclaredProgramKind['validateParams'] = () => [];
  if (params !== undefined) {
    const compiled = compileParamsSchema(params);
    if ('error' in compiled) return { ok: false, issues: [{ field: `${prefix}.params`, reason: compiled.error }] };
    validateParams = compiled.validate;
  }
  const kind: DeclaredProgramKind = {
    name,
    ...fields,
    cwd: resolve(baseDir, cwd ?? '.'),
    ...(params !== undefined ? { paramsSchema: params } : {}),
    validateParams,
  };
  return { ok: true, kind };
}

function compileParamsSchema(
  schema: Record<string, unknown>,
): { validate: DeclaredProgramKind['validateParams'] } | { error: string } {
  let check: ValidateFunction;
  try {
    // One instance per kind: two kinds may declare the same `$id`. Strict: an unknown keyword (a
    // typo such as `minimun`) or a `required` name missing from `properties` is refused.
    const ajv = new Ajv({
      allErrors: true,
      strictSchema: true,
      strictRequired: true,
      strictTypes: false,
      strictTuples: false,
    });
    check = ajv.compile(schema);
  } catch (err) {
    return { error: `not a valid JSON Schema: ${err instanceof Error ? err.message : String(err)}` };
  }
  return { validate: (params) => (check(params) ? [] : (check.errors ?? []).map(paramsIssue)) };
}

function paramsIssue(error: ErrorObject): FieldIssue {
  const path = error.instancePath
    .split('/')
    .slice(1)
    .map((segment) => segment.replace(/~1/g, '/').replace(/~0/g, '~'));
  const p = error.params as Record<string, unknown>;
  if (error.keyword === 'required' && typeof p.missingProperty === 'string') {
    return { field: ['params', ...path, p.missingProperty].join('.'), reason: 'is required' };
  }
  if (error.keyword === 'additionalProperties' && typeof p.additionalProperty === 'string') {
    return { field: ['params', ...path, p.additionalProperty].join('.'), reason: 'unknown field' };
  }
  return { field: ['params', ...path].join('.'), reason: error.message ?? error.keyword };
}

function zodIssues(error: z.ZodError, prefix: string): FieldIssue[] {
  return error.issues
    .map((issue) => {
      const path = [prefix, ...issue.path.map(String)].filter(Boolean);
      if (issue.code === 'unrecognized_keys') {
        return issue.keys.map((key) => ({ field: [...path, key].join('.'), reason: 'unknown field' }));
      }
      return [{ field: path.join('.'), reason: issue.message }];
    })
    .flat();
}
