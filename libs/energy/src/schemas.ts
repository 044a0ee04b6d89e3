import { z } from 'zod';
import type { FieldIssue } from '@runforge/engine';

/** A leap year of quarter-hours: more than any of the three models plans at once. */
export const MAX_INTERVALS = 366 * 96;
export const INTERVAL_MINUTES = [15, 30, 60] as const;
export type IntervalMinutes = (typeof INTERVAL_MINUTES)[number];

/** A number that is present and finite (zod's `z.number()` already rejects NaN and ±Infinity). */
function finite(): z.ZodNumber {
  return z.number({
    error: (issue) =>
      issue.input === undefined ? 'is required' : `must be a finite number, got ${shown(issue.input)}`,
  });
}

function shown(input: unknown): string {
  if (typeof input === 'number') return String(input);
  if (typeof input === 'string') return JSON.stringify(input);
  return input === null ? 'null' : typeof input;
}

const series = (): z.ZodArray<z.ZodNumber> => z.array(finite()).min(1, 'must not be empty').max(MAX_INTERVALS);

/**
 * Prices (€/MWh) and optional forecasts (MW) per market interval, from `start` on. `start` is an
 * ISO-8601 instant with an offset; interval `i` starts at `start + i·intervalMinutes`.
 */
export const PriceSeriesSchema = z
  .object({
    start: z.iso.datetime({ offset: true, error: 'must be an ISO-8601 instant with an offset' }),
    intervalMinutes: z.union(
      INTERVAL_MINUTES.map((m) => z.literal(m)),
      { error: `must be one of ${INTERVAL_MINUTES.join(', ')}` },
    ),
    dayAhead: series(),
    intraday: series().optional(),
    load: series().optional(),
    pv: series().optional(),
  })
  .strict()
  .superRefine((s, ctx) => {
    for (const key of ['intraday', 'load', 'pv'] as const) {
      const values = s[key];
      if (values !== undefined && values.length !== s.dayAhead.length) {
        ctx.addIssue({
          code: 'custom',
          path: [key],
          message: `must have one value per interval (${s.dayAhead.length}), got ${values.length}`,
        });
      }
    }
  });
export type PriceSeries = z.output<typeof PriceSeriesSchema>;

/**
 * A storage asset. Energies in MWh, powers in MW; `powerMW` bounds charging and discharging alike.
 * Efficiencies are one-way: a round trip keeps `chargeEfficiency · dischargeEfficiency`.
 */
export const AssetSchema = z
  .object({
    capacityMWh: finite().positive('must be > 0'),
    powerMW: finite().positive('must be > 0'),
    chargeEfficiency: finite().gt(0, 'must be in (0, 1]').max(1, 'must be in (0, 1]'),
    dischargeEfficiency: finite().gt(0, 'must be in (0, 1]').max(1, 'must be in (0, 1]'),
    socMinMWh: finite().min(0, 'must be >= 0'),
    socMaxMWh: finite().min(0, 'must be >= 0'),
    initialSocMWh: finite().min(0, 'must be >= 0'),
    finalSocMinMWh: finite().min(0, 'must be >= 0').optional(),
    degradationCostPerMWh: finite().min(0, 'must be >= 0').default(0),
    gridLimitMW: finite().positive('must be > 0').optional(),
    maxCyclesPerDay: finite().positive('must be > 0').optional(),
  })
  .strict()
  .superRefine((a, ctx) => {
    const issue = (field: keyof typeof a, message: string): void => {
      ctx.addIssue({ code: 'custom', path: [field], message });
    };
    if (a.socMaxMWh > a.capacityMWh) issue('socMaxMWh', `must be at most capacityMWh (${a.capacityMWh})`);
    if (a.socMinMWh > a.socMaxMWh) {
      issue('socMinMWh', `must be at most socMaxMWh (${a.socMaxMWh})`);
      return; // the checks below would only repeat it
    }
    if (a.initialSocMWh < a.socMinMWh || a.initialSocMWh > a.socMaxMWh) {
      issue('initialSocMWh', `must be between socMinMWh (${a.socMinMWh}) and socMaxMWh (${a.socMaxMWh})`);
    }
    if (a.finalSocMinMWh !== undefined && a.finalSocMinMWh > a.socMaxMWh) {
      issue('finalSocMinMWh', `must be at most socMaxMWh (${a.socMaxMWh})`);
    }
  });
export type AssetInput = z.input<typeof AssetSchema>;
export type Asset = z.output<typeof AssetSchema>;

export const INTEGER_MODES = ['auto', 'never', 'always'] as const;
export type IntegerMode = (typeof INTEGER_MODES)[number];

/**
 * The seed's `model_config`, snake_case as the seed spells it. `integer` chooses the formulation:
 * `auto` adds the charge/discharge binaries only when a price is negative (the one case where
 * charging and discharging at once can pay in the LP). `solver` is accepted for the seed's sake
 * (`"CPLEX"` in its examples) and only noted: HiGHS solves every model.
 */
export const ModelConfigSchema = z
  .object({
    time_limit: finite().positive('must be > 0 seconds').max(86_400, 'must be at most 86400 seconds').optional(),
    mip_gap: finite().min(0, 'must be in [0, 1]').max(1, 'must be in [0, 1]').optional(),
    threads: finite().int('must be an integer').min(0, 'must be >= 0').max(256, 'must be at most 256').optional(),
    integer: z.enum(INTEGER_MODES, { error: `must be one of ${INTEGER_MODES.join(', ')}` }).default('auto'),
    solver: z.string().max(64).optional(),
  })
  .strict();
export type ModelConfigInput = z.input<typeof ModelConfigSchema>;
export type ModelConfig = z.output<typeof ModelConfigSchema>;

export type Parsed<T> = { ok: true; value: T } | { ok: false; issues: FieldIssue[] };

/** `dayAhead.3`-style zod paths as `dayAhead[3]`, under an optional prefix. */
function fieldOf(prefix: string, path: readonly PropertyKey[]): string {
  let field = prefix;
  for (const key of path) {
    if (typeof key === 'number') field += `[${key}]`;
    else field += field === '' ? String(key) : `.${String(key)}`;
  }
  return field === '' ? '(input)' : field;
}

/** Validates `input` with `schema`, naming each problem's field under `prefix` (`asset.socMinMWh`). */
export function parseWith<S extends z.ZodType>(schema: S, input: unknown, prefix: string): Parsed<z.output<S>> {
  const result = schema.safeParse(input);
  if (result.success) return { ok: true, value: result.data };
  return {
    ok: false,
    issues: result.error.issues.map((issue) =>
      issue.code === 'unrecognized_keys'
        ? { field: fieldOf(prefix, [...issue.path, issue.keys.join(',')]), reason: 'unknown field' }
        : { field: fieldOf(prefix, issue.path), reason: issue.message },
    ),
  };
}

export const parseAsset = (input: unknown): Parsed<Asset> => parseWith(AssetSchema, input, 'asset');
export const parseModelConfig = (input: unknown): Parsed<ModelConfig> =>
  parseWith(ModelConfigSchema, input ?? {}, 'config');
export const parsePriceSeries = (input: unknown): Parsed<PriceSeries> => parseWith(PriceSeriesSchema, input, 'series');
