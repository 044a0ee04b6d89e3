import { z } from 'zod';
import type { EnergyResultAnswer, FailureGroup, TrialSummary } from './api';
import { ContractError, EnvelopeHeaderSchema, type Envelope } from './envelope';
import {
  BacktestRequestSchema,
  OptimizationRequestSchema,
  ENERGY_KINDS,
  EnergyRunRequestSchema,
  ProgramRunRequestSchema,
  RunKindSchema,
  TriggeredBySchema,
} from './requests';
import { KIND_NAME_PATTERN } from './run-vocabulary';
import { PrincipalSchema } from './principal';

/**
 * The one definition of every event on the log: type name, schema version, subject token
 * (`runs.<runId>.<token>`) and payload schema. Published names are never renamed; a breaking change
 * adds a version and an upcaster from the previous one (see `upcasters` below and docs/events.md).
 */
export interface EventDefinition<T extends string, S extends z.ZodType> {
  readonly type: T;
  readonly version: number;
  readonly token: string;
  readonly schema: S;
}

export function defineEvent<T extends string, S extends z.ZodType>(
  type: T,
  version: number,
  token: string,
  schema: S,
): EventDefinition<T, S> {
  return { type, version, token, schema };
}

const metricsRecord = z.record(z.string(), z.number());
const equityPoint = z.object({ t: z.number(), equity: z.number() });

export const BacktestResultSchema = z.object({
  metrics: metricsRecord,
  equityCurve: z.array(equityPoint).max(5_000),
  bars: z.number().int().nonnegative(),
});
export type BacktestResultPayload = z.output<typeof BacktestResultSchema>;

export const TrialSummarySchema = z.object({
  trialId: z.string(),
  index: z.number().int().nonnegative(),
  params: z.record(z.string(), z.union([z.number(), z.boolean(), z.string()])),
  metrics: metricsRecord,
  score: z.number(),
}) satisfies z.ZodType<TrialSummary>;

/**
 * An optimization result lists at most this many top trials and failure groups, each group's
 * message clipped to this many characters (a RunCompleted stays far below NATS' 1 MiB limit).
 */
export const RESULT_LIMITS = { top: 10, failureGroups: 100, failureMessage: 1_000 } as const;

export const FailureGroupSchema = z.object({
  fingerprint: z.string(),
  message: z.string(),
  count: z.number().int().positive(),
  sampleTrialId: z.string(),
}) satisfies z.ZodType<FailureGroup>;

export const OptimizationResultSchema = z.object({
  objective: z.object({ metric: z.string(), direction: z.enum(['maximize', 'minimize']) }),
  best: TrialSummarySchema.nullable(),
  top: z.array(TrialSummarySchema).max(100),
  failures: z.array(FailureGroupSchema).max(100),
});
export type OptimizationResultPayload = z.output<typeof OptimizationResultSchema>;

/** Longest error message, stack trace and code an event carries (see `errorFieldsOf`). */
export const ERROR_LIMITS = { message: 10_000, stack: 50_000, code: 100 } as const;

const errorFields = {
  errorMessage: z.string().max(ERROR_LIMITS.message),
  errorStackTrace: z.string().max(ERROR_LIMITS.stack).optional(),
  errorCode: z.string().max(ERROR_LIMITS.code).optional(),
};

/** `text` cut to at most `max` characters, saying how much was cut. */
export function clipText(text: string, max: number): string {
  if (text.length <= max) return text;
  // The note is at most 56 characters (two counts of up to 16 digits), so 60 leaves it room.
  const keep = Math.max(0, max - 60);
  return `${text.slice(0, keep)} … [${text.length - keep} of ${text.length} characters cut]`;
}

/**
 * An error as an event's error fields, within the contract's limits: a strategy (or anything) that
 * throws a 1 MB message still yields a valid event, so the failure is recorded instead of the event
 * being rejected over and over.
 */
export function errorFieldsOf(err: unknown): { errorMessage: string; errorStackTrace?: string; errorCode?: string } {
  if (!(err instanceof Error)) return { errorMessage: clipText(String(err), ERROR_LIMITS.message) };
  const code = (err as { code?: unknown }).code;
  const message = clipText(err.message, ERROR_LIMITS.message);
  let stack = err.stack;
  // A V8 stack starts with "<name>: <message>": a long message is clipped there too, so the
  // frames (what the fingerprint groups by) survive the stack's own limit.
  const header = `${err.name}: ${err.message}`;
  if (stack !== undefined && message !== err.message && stack.startsWith(header))
    stack = `${err.name}: ${message}${stack.slice(header.length)}`;
  return {
    errorMessage: message,
    errorStackTrace: stack === undefined ? undefined : clipText(stack, ERROR_LIMITS.stack),
    errorCode: typeof code === 'string' ? clipText(code, ERROR_LIMITS.code) : undefined,
  };
}

export const LOG_LEVELS = ['DEBUG', 'INFO', 'WARNING', 'ERROR'] as const;
/** Longest message a `RunLogged` carries (`RunContext.log` clips to it). */
export const LOG_MESSAGE_MAX = 10_000;
export type LogLevel = (typeof LOG_LEVELS)[number];

export const FAILURE_REASONS = [
  'error',
  'attempts_exhausted',
  'timeout',
  'failed_trials',
  'all_trials_failed',
  'invalid_request',
] as const;

export const ABANDON_REASONS = ['heartbeat_lost', 'stalled', 'shutdown', 'coordinator_lost', 'timeout'] as const;
export type AbandonReason = (typeof ABANDON_REASONS)[number];

export const RunRequested = defineEvent(
  'RunRequested',
  1,
  'requested',
  z.discriminatedUnion('kind', [
    z.object({
      kind: z.literal(RunKindSchema.enum.backtest),
      request: BacktestRequestSchema,
      totalBars: z.number().int().nonnegative(),
      triggeredBy: TriggeredBySchema,
      scheduleId: z.string().optional(),
      retryOf: z.string().optional(),
      /** Who asked (absent in histories recorded before principals were). */
      principal: PrincipalSchema.optional(),
    }),
    z.object({
      kind: z.literal(RunKindSchema.enum.optimization),
      request: OptimizationRequestSchema,
      totalBars: z.number().int().nonnegative(),
      totalCombinations: z.number().int().nonnegative(),
      triggeredBy: TriggeredBySchema,
      scheduleId: z.string().optional(),
      retryOf: z.string().optional(),
      /** Who asked (absent in histories recorded before principals were). */
      principal: PrincipalSchema.optional(),
    }),
    // An energy model; `horizon` is what the gateway resolved (the intervals the model covers).
    z.object({
      kind: z.enum(ENERGY_KINDS),
      request: EnergyRunRequestSchema,
      horizon: z.object({ start: z.iso.datetime({ offset: true }), intervals: z.number().int().positive() }),
      totalBars: z.number().int().nonnegative().default(0),
      triggeredBy: TriggeredBySchema,
      scheduleId: z.string().optional(),
      retryOf: z.string().optional(),
      /** Who asked (absent in histories recorded before principals were). */
      principal: PrincipalSchema.optional(),
    }),
    // A user's own program, declared as a program kind on the workers: `program` is the kind's name
    // (what the API, listings and the read model call its kind).
    z.object({
      kind: z.literal('program'),
      program: z.string().regex(new RegExp(KIND_NAME_PATTERN)),
      request: ProgramRunRequestSchema,
      totalBars: z.number().int().nonnegative().default(0),
      triggeredBy: TriggeredBySchema,
      scheduleId: z.string().optional(),
      retryOf: z.string().optional(),
      /** Who asked (absent in histories recorded before principals were). */
      principal: PrincipalSchema.optional(),
    }),
  ]),
);

/** A run's own measure of progress, for kinds that count in percent (a program's `PROGRESS:nn`). */
export const RunProgressed = defineEvent(
  'RunProgressed',
  1,
  'progressed',
  z.object({ percent: z.number().min(0).max(100) }),
);

const energyRow = z.object({
  t: z.number().int().nonnegative(),
  start: z.string().optional(),
  price: z.number(),
  chargeMW: z.number(),
  dischargeMW: z.number(),
  socMWh: z.number(),
  committedMW: z.number().optional(),
  tradeMW: z.number().optional(),
});

/**
 * What an energy model's run produced, in the seed's words where it has them (`objective_value`,
 * `solver_time_ms`, `results_count`): the solver's status, the plan per interval and its summary.
 */
export const EnergyResultSchema = z.object({
  model: z.enum(ENERGY_KINDS),
  solver_status: z.string(),
  objective_value: z.number().nullable(),
  solver_time_ms: z.number().nonnegative(),
  results_count: z.number().int().nonnegative(),
  mip_gap: z.number().optional(),
  integer: z.boolean(),
  schedule: z.array(energyRow).max(366 * 96),
  setpoints: z.array(energyRow).optional(),
  summary: z.record(z.string(), z.number()),
  notes: z.array(z.string()),
  /** RMO: the DMO run whose plan was the committed position (absent: none, optimized against zero). */
  committed_from: z.string().optional(),
}) satisfies z.ZodType<EnergyResultAnswer>;
export type EnergyResultPayload = z.output<typeof EnergyResultSchema>;

/** What a program kind's run produced: its last `RESULT:` line, as JSON. */
export const ProgramResultSchema = z.object({ output: z.unknown() }).strict();
export type ProgramResultPayload = z.output<typeof ProgramResultSchema>;

export const RunStarted = defineEvent(
  'RunStarted',
  1,
  'started',
  z.object({ workerId: z.string(), totalBars: z.number().int().nonnegative() }),
);

export const BarProgressed = defineEvent(
  'BarProgressed',
  1,
  'bar_progressed',
  z.object({ processedBars: z.number().int().nonnegative(), totalBars: z.number().int().nonnegative() }),
);

const trialCompletedData = z.object({
  trialId: z.string(),
  index: z.number().int().nonnegative(),
  params: z.record(z.string(), z.union([z.number(), z.boolean(), z.string()])),
  metrics: metricsRecord,
  score: z.number(),
  durationMs: z.number().nonnegative(),
  workerId: z.string(),
});

const trialFailedData = z.object({
  trialId: z.string(),
  index: z.number().int().nonnegative(),
  params: z.record(z.string(), z.union([z.number(), z.boolean(), z.string()])),
  ...errorFields,
  fingerprint: z.string(),
  durationMs: z.number().nonnegative(),
  workerId: z.string(),
});

/** One trial's outcome. */
export const TrialCompleted = defineEvent('TrialCompleted', 1, 'trial_completed', trialCompletedData);
export const TrialFailed = defineEvent('TrialFailed', 1, 'trial_failed', trialFailedData);

export const TrialOutcomeSchema = z.discriminatedUnion('status', [
  trialCompletedData.extend({ status: z.literal('Completed') }),
  trialFailedData.extend({ status: z.literal('Failed') }),
]);
export type TrialOutcome = z.output<typeof TrialOutcomeSchema>;

/**
 * Legacy, read only: several trials' outcomes in one fact, as workers published them before each
 * outcome became its own `TrialCompleted` / `TrialFailed`. Histories already stored keep them; every
 * reader (the fold, the coordinator, the projection, the timeline) reads each outcome exactly as the
 * per-trial event it stands for (`trialOutcomesOf`). Nothing writes it any more.
 */
export const TrialsRecorded = defineEvent(
  'TrialsRecorded',
  1,
  'trials_recorded',
  z.object({ outcomes: z.array(TrialOutcomeSchema).min(1).max(10_000) }),
);

export const RunCompleted = defineEvent(
  'RunCompleted',
  1,
  'completed',
  z.object({
    durationMs: z.number().nonnegative(),
    processedBars: z.number().int().nonnegative().optional(),
    completedCombinations: z.number().int().nonnegative().optional(),
    failedCombinations: z.number().int().nonnegative().optional(),
    result: z.union([BacktestResultSchema, OptimizationResultSchema, EnergyResultSchema, ProgramResultSchema]),
  }),
);

export const RunFailed = defineEvent(
  'RunFailed',
  1,
  'failed',
  z.object({
    ...errorFields,
    reason: z.enum(FAILURE_REASONS),
    processedBars: z.number().int().nonnegative().optional(),
  }),
);

export const RunCancellationRequested = defineEvent(
  'RunCancellationRequested',
  1,
  'cancellation_requested',
  z.object({
    requestedBy: z.enum(['api', 'schedule']),
    reason: z.string().max(500).optional(),
    /** Who asked (absent in histories recorded before principals were). */
    principal: PrincipalSchema.optional(),
  }),
);

export const RunCancelled = defineEvent(
  'RunCancelled',
  1,
  'cancelled',
  z.object({
    processedBars: z.number().int().nonnegative().optional(),
    completedCombinations: z.number().int().nonnegative().optional(),
    failedCombinations: z.number().int().nonnegative().optional(),
    reason: z.string().max(500).optional(),
  }),
);

export const RunAttemptAbandoned = defineEvent(
  'RunAttemptAbandoned',
  1,
  'attempt_abandoned',
  z.object({
    abandonedAttempt: z.number().int().positive(),
    reason: z.enum(ABANDON_REASONS),
    detail: z.string().max(2_000).optional(),
  }),
);

export const RunLogged = defineEvent(
  'RunLogged',
  1,
  'logged',
  z.object({
    level: z.enum(LOG_LEVELS),
    message: z.string().max(LOG_MESSAGE_MAX),
    context: z.record(z.string(), z.unknown()).optional(),
  }),
);

export const EVENTS = [
  RunRequested,
  RunStarted,
  BarProgressed,
  RunProgressed,
  TrialCompleted,
  TrialFailed,
  TrialsRecorded,
  RunCompleted,
  RunFailed,
  RunCancellationRequested,
  RunCancelled,
  RunAttemptAbandoned,
  RunLogged,
] as const;

type AnyDefinition = (typeof EVENTS)[number];
type EnvelopeOf<D> = D extends EventDefinition<infer T, infer S> ? Envelope<T, z.output<S>> : never;

/** Every event of a run, as read back from the log (latest version of each type). */
export type RunEvent = EnvelopeOf<AnyDefinition>;
export type RunEventType = RunEvent['type'];
export type EventData<T extends RunEventType> = Extract<RunEvent, { type: T }>['data'];
export type EventDataInput<T extends RunEventType> = z.input<Extract<AnyDefinition, { type: T }>['schema']>;

/** The events that end a run: its status is terminal from the first of them on. */
export const RUN_END_TYPES = ['RunCompleted', 'RunFailed', 'RunCancelled'] as const satisfies readonly RunEventType[];

export function isRunEnd(event: RunEvent): boolean {
  return (RUN_END_TYPES as readonly RunEventType[]).includes(event.type);
}

const byType = new Map<string, AnyDefinition>(EVENTS.map((d) => [d.type, d]));
const byToken = new Map<string, AnyDefinition>(EVENTS.map((d) => [d.token, d]));

export function eventDefinition<T extends RunEventType>(type: T): Extract<AnyDefinition, { type: T }> {
  const def = byType.get(type);
  if (!def) throw new ContractError('UNKNOWN_EVENT_TYPE', `unknown event type ${type}`);
  return def as Extract<AnyDefinition, { type: T }>;
}

export function eventTypeForToken(token: string): RunEventType | undefined {
  return byToken.get(token)?.type;
}

/**
 * Reads an older version of an event as the current one. Keyed by `${type}@${fromVersion}`; each
 * upcaster lifts the payload by exactly one version, and `decodeEvent` chains them.
 */
export type Upcaster = (data: unknown) => unknown;

/** A decoded envelope of any definition set (`RunEvent` for the published one). */
export interface DecodedEnvelope {
  readonly type: string;
  readonly version: number;
  readonly runId: string;
  readonly occurredAt: string;
  readonly attempt: number;
  readonly data: unknown;
}

export interface EventCodec {
  /** Lifts `type` from `fromVersion` to `fromVersion + 1`. */
  registerUpcaster(type: string, fromVersion: number, upcast: Upcaster): void;
  /** Validates an envelope, upcasting an older version step by step to the current one. */
  decode(raw: unknown): DecodedEnvelope;
}

/**
 * The consume-side boundary over a set of definitions: validates the envelope, refuses versions
 * newer than the definition (an old build must not guess), lifts older versions through the chain
 * of upcasters, then validates the payload against the current schema. `decodeEvent` is the codec
 * over `EVENTS`; tests build codecs over fixture definitions to show versioning without publishing
 * a fake event type (see docs/events.md).
 */
export function createEventCodec(definitions: readonly EventDefinition<string, z.ZodType>[]): EventCodec {
  const defs = new Map(definitions.map((d) => [d.type, d]));
  const chain = new Map<string, Upcaster>();
  return {
    registerUpcaster(type, fromVersion, upcast) {
      const def = defs.get(type);
      if (!def) throw new ContractError('UNKNOWN_EVENT_TYPE', `unknown event type ${type}`);
      if (!Number.isInteger(fromVersion) || fromVersion < 1 || fromVersion >= def.version) {
        throw new ContractError(
          'INVALID_UPCASTER',
          `${type} v${fromVersion} is not an older version (current v${def.version})`,
        );
      }
      chain.set(`${type}@${fromVersion}`, upcast);
    },
    decode(raw) {
      const head = EnvelopeHeaderSchema.safeParse(raw);
      if (!head.success) {
        throw new ContractError('INVALID_ENVELOPE', `invalid envelope: ${z.prettifyError(head.error)}`, {
          cause: head.error,
        });
      }
      const def = defs.get(head.data.type);
      if (!def) throw new ContractError('UNKNOWN_EVENT_TYPE', `unknown event type ${head.data.type}`);
      let { version, data } = head.data;
      if (version > def.version) {
        throw new ContractError(
          'EVENT_VERSION_TOO_NEW',
          `${def.type} v${version} is newer than this build understands (v${def.version})`,
        );
      }
      while (version < def.version) {
        const up = chain.get(`${def.type}@${version}`);
        if (!up) throw new ContractError('NO_UPCASTER', `no upcaster for ${def.type} v${version}`);
        data = up(data);
        version += 1;
      }
      const parsed = def.schema.safeParse(data);
      if (!parsed.success) {
        throw new ContractError('INVALID_EVENT', `invalid ${def.type} payload: ${z.prettifyError(parsed.error)}`, {
          cause: parsed.error,
        });
      }
      return { ...head.data, version, data: parsed.data };
    },
  };
}

const codec = createEventCodec(EVENTS);

export function registerUpcaster(type: RunEventType, fromVersion: number, upcast: Upcaster): void {
  codec.registerUpcaster(type, fromVersion, upcast);
}

/** Builds an envelope, validating the payload (the publish-side boundary). */
export function createEvent<T extends RunEventType>(
  type: T,
  meta: { runId: string; attempt: number; occurredAt: string },
  data: EventDataInput<T>,
): Extract<RunEvent, { type: T }> {
  const def = eventDefinition(type);
  const parsed = def.schema.safeParse(data);
  if (!parsed.success) {
    throw new ContractError('INVALID_EVENT', `invalid ${type} payload: ${z.prettifyError(parsed.error)}`, {
      cause: parsed.error,
    });
  }
  return { type, version: def.version, ...meta, data: parsed.data } as unknown as Extract<RunEvent, { type: T }>;
}

/** Parses and validates a raw envelope (the consume-side boundary), upcasting older versions. */
export function decodeEvent(raw: unknown): RunEvent {
  return codec.decode(raw) as RunEvent;
}
