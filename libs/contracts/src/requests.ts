import { z } from 'zod';
import { TIMEFRAMES } from '@runforge/engine';
import { RUN_KINDS, TRIGGERED_BY } from './run-vocabulary';
import type { EnergyKind } from './api';

/**
 * Request shapes accepted at the edge (REST, schedule templates) and carried inside
 * `RunRequested`. Unknown keys are rejected so that a typo (`comissionBps`) is a 400 naming the
 * field rather than a silently ignored option.
 */

/** Six Float64Array columns: 20M bars is about 1 GB per worker. */
export const MAX_SYNTHETIC_BARS = 20_000_000;

const timeWindow = {
  /** Inclusive window on bar time (ISO-8601 or epoch ms). */
  from: z.union([z.iso.datetime({ offset: true }), z.number().int().nonnegative()]).optional(),
  to: z.union([z.iso.datetime({ offset: true }), z.number().int().nonnegative()]).optional(),
};

export const SyntheticDatasetSchema = z
  .object({
    bars: z.number().int().min(2).max(MAX_SYNTHETIC_BARS),
    seed: z
      .number()
      .int()
      .min(0)
      .max(2 ** 32 - 1),
    timeframe: z.enum(TIMEFRAMES as unknown as [string, ...string[]]),
    startPrice: z.number().positive().max(1e9).optional(),
    drift: z.number().min(-5).max(5).optional(),
    volatility: z.number().min(0).max(5).optional(),
    regimes: z.boolean().optional(),
    startTime: z.number().int().nonnegative().optional(),
  })
  .strict();

export const DatasetRefSchema = z
  .object({
    synthetic: SyntheticDatasetSchema.optional(),
    id: z.string().min(1).max(128).optional(),
    ...timeWindow,
  })
  .strict()
  .superRefine((d, ctx) => {
    if ((d.synthetic === undefined) === (d.id === undefined)) {
      ctx.addIssue({ code: 'custom', message: 'give exactly one of "synthetic" or "id"', path: [] });
    }
  });

const ParamValueSchema = z.union([z.number(), z.boolean(), z.string().max(200)]);

export const PrioritySchema = z.enum(['high', 'normal']);

/** Options shared by every run kind (lifecycle, costs). */
const runOptions = {
  initialCapital: z.number().positive().max(1e12).default(10_000),
  commissionBps: z.number().min(0).max(1000).default(1),
  slippageBps: z.number().min(0).max(1000).default(0),
  positionFraction: z.number().gt(0).max(1).default(1),
  allowShort: z.boolean().default(false),
  maxRetries: z.number().int().min(0).max(20).default(3),
  heartbeatSeconds: z.number().min(0.2).max(60).default(2),
  stallSeconds: z.number().min(1).max(86_400).optional(),
  priority: PrioritySchema.default('normal'),
};

export const BacktestRequestSchema = z
  .object({
    strategy: z.string().min(1).max(64),
    params: z.record(z.string(), ParamValueSchema).default({}),
    dataset: DatasetRefSchema,
    ...runOptions,
    timeoutSeconds: z
      .number()
      .int()
      .min(1)
      .max(7 * 86_400)
      .default(600),
  })
  .strict();

export type BacktestRequestInput = z.input<typeof BacktestRequestSchema>;
export type BacktestRequest = z.output<typeof BacktestRequestSchema>;
export type DatasetRef = z.output<typeof DatasetRefSchema>;
export type SyntheticDataset = z.output<typeof SyntheticDatasetSchema>;
export type Priority = z.output<typeof PrioritySchema>;

export const RunKindSchema = z.enum(RUN_KINDS);

/**
 * A run of a program kind as stored in its `RunRequested`: the request's `params` (validated against
 * the kind's declared JSON Schema at the gateway) and the lifecycle settings the kind's declaration
 * gave it when it was accepted, so the record says what the run was held to.
 */
export const ProgramRunRequestSchema = z
  .object({
    params: z.record(z.string(), z.unknown()).default({}),
    priority: PrioritySchema.default('normal'),
    maxRetries: z.number().int().min(0).max(20).default(0),
    heartbeatSeconds: z.number().min(0.2).max(60).default(2),
    stallSeconds: z.number().min(1).max(86_400).optional(),
    timeoutSeconds: z
      .number()
      .int()
      .min(1)
      .max(7 * 86_400)
      .default(3600),
    /** A timeout ends the attempt, not the run: it is recorded abandoned and retried while retries remain. */
    retryOnTimeout: z.boolean().default(false),
  })
  .strict();
export type ProgramRunRequest = z.output<typeof ProgramRunRequestSchema>;
export type ProgramRunRequestInput = z.input<typeof ProgramRunRequestSchema>;
export const TriggeredBySchema = z.enum(TRIGGERED_BY);

export interface FieldIssue {
  readonly field: string;
  readonly reason: string;
}

/** Flattens zod issues into `{field, reason}` pairs a client can show next to the input. */
export function toFieldIssues(error: z.ZodError, prefix = ''): FieldIssue[] {
  return error.issues.map((issue) => {
    const path = issue.path.map(String);
    if (issue.code === 'unrecognized_keys') {
      return { field: [prefix, ...path, issue.keys.join(',')].filter(Boolean).join('.'), reason: 'unknown field' };
    }
    return { field: [prefix, ...path].filter(Boolean).join('.') || '(body)', reason: issue.message };
  });
}

/** One optimization axis: an inclusive numeric range with a step, or an explicit list of values. */
export const AxisSchema = z.union(
  [
    z
      .object({ min: z.number(), max: z.number(), step: z.number().positive() })
      .strict()
      .refine((a) => a.max >= a.min, { message: 'max must be >= min' }),
    z
      .array(z.union([z.number(), z.boolean(), z.string().max(200)]))
      .min(1)
      .max(10_000),
  ],
  {
    // Shown when the input is neither shape (a string, null, a range without its step...).
    error:
      'expected a range {min, max, step} (three numbers, step > 0) or a non-empty list of numbers, booleans or strings',
  },
);
export type Axis = z.output<typeof AxisSchema>;

export const OBJECTIVE_METRICS = [
  'sharpe',
  'sortino',
  'totalReturn',
  'cagr',
  'maxDrawdown',
  'profitFactor',
  'winRate',
  'averageTradeReturn',
  'finalEquity',
] as const;

/** Metrics where lower is better: their objective minimizes unless told otherwise. */
const LOWER_IS_BETTER: ReadonlySet<string> = new Set(['maxDrawdown']);

/** The direction an objective takes when the request names only its metric. */
export function defaultObjectiveDirection(metric: string): 'maximize' | 'minimize' {
  return LOWER_IS_BETTER.has(metric) ? 'minimize' : 'maximize';
}

export const ObjectiveSchema = z
  .object({
    metric: z.enum(OBJECTIVE_METRICS).default('sharpe'),
    /** Default: minimize for a metric where lower is better (maxDrawdown), else maximize. */
    direction: z.enum(['maximize', 'minimize']).optional(),
  })
  .strict()
  .transform((o) => ({
    metric: o.metric,
    direction: o.direction ?? defaultObjectiveDirection(o.metric),
  }));
export type Objective = z.output<typeof ObjectiveSchema>;

export const MAX_COMBINATIONS_LIMIT = 100_000;

export const OptimizationRequestSchema = z
  .object({
    strategy: z.string().min(1).max(64),
    axes: z.record(z.string(), AxisSchema).refine((a) => Object.keys(a).length > 0, { message: 'at least one axis' }),
    /** Fixed values for parameters that are not optimized. */
    params: z.record(z.string(), ParamValueSchema).default({}),
    constraints: z.array(z.string().min(1).max(200)).max(20).default([]),
    objective: ObjectiveSchema.default({ metric: 'sharpe', direction: 'maximize' }),
    maxCombinations: z.number().int().min(1).max(MAX_COMBINATIONS_LIMIT).default(10_000),
    /**
     * Stop early as Failed once this many trials failed (integer >= 1) or this share of the grid
     * (0 < x < 1). A fraction above 1 is refused at submission (validateOptimizationRequest), not
     * here: requests stored before that rule must still decode.
     */
    maxFailedTrials: z.number().positive().optional(),
    dataset: DatasetRefSchema,
    ...runOptions,
    timeoutSeconds: z
      .number()
      .int()
      .min(1)
      .max(7 * 86_400)
      .default(3600),
  })
  .strict();
export type OptimizationRequestInput = z.input<typeof OptimizationRequestSchema>;
export type OptimizationRequest = z.output<typeof OptimizationRequestSchema>;

/** The energy models (JOBS.md): day-ahead (DMO), intraday re-planning (RMO), storage set-points (SO). */
/** `EnergyKind`, the type, is in api.ts, where the dashboard reads it too. */
export const ENERGY_KINDS = ['dmo', 'rmo', 'so'] as const satisfies readonly EnergyKind[];

/**
 * A run of an energy model, in the seed's vocabulary (`data_source_id`, `triggered_by`,
 * `model_config`). `model_config` is checked against the solver's options at the gateway
 * (`@runforge/energy`); the horizon fields default from the kind (DMO: the next delivery day in the
 * market's time zone; RMO, SO: from the current interval).
 */
export const EnergyRunRequestSchema = z
  .object({
    data_source_id: z.string().min(1).max(128),
    /** Who asked, in the seed's words (a user, "scheduler", "dashboard"); the run's `triggeredBy` says how. */
    triggered_by: z.string().min(1).max(100).optional(),
    model_config: z.record(z.string(), z.unknown()).default({}),
    /** DMO: the delivery day (YYYY-MM-DD, market time); default the day after the trigger's. */
    delivery_date: z.iso.date().optional(),
    /** RMO / SO: the first interval (ISO instant); default the interval the trigger falls in. */
    from: z.iso.datetime({ offset: true }).optional(),
    /** RMO / SO: how many intervals (RMO default: to the end of the next day; SO default 4 hours). */
    intervals: z
      .number()
      .int()
      .min(1)
      .max(366 * 96)
      .optional(),
    /** SO: the state of charge now (MWh); default the asset's initial one. */
    initial_soc_mwh: z.number().min(0).optional(),
    priority: PrioritySchema.default('normal'),
    maxRetries: z.number().int().min(0).max(20).default(2),
    heartbeatSeconds: z.number().min(0.2).max(60).default(2),
    stallSeconds: z.number().min(1).max(86_400).optional(),
    timeoutSeconds: z.number().int().min(1).max(86_400).default(900),
  })
  .strict();
export type EnergyRunRequest = z.output<typeof EnergyRunRequestSchema>;
