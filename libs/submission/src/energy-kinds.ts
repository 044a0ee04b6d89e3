import { localDate, windowBounds } from '@runforge/calendar';
import {
  ENERGY_KINDS,
  EnergyRunRequestSchema,
  toFieldIssues,
  type EnergyKind,
  type FieldIssue,
} from '@runforge/contracts';
import type { EnergySource } from '@runforge/datasets';
import { coverage, describeMissing, ModelConfigSchema, parseModelConfig } from '@runforge/energy';
import { z } from 'zod';
import type { Validated } from './submission';
import type { AcceptedRun, KindDescription, SubmissionContext, SubmittableKind } from './kinds';

/** The day-ahead market's time zone: a DMO's delivery day and its once-a-day window are its calendar days. */
export const MARKET_TIME_ZONE = 'Europe/Amsterdam';
/** An SO's default horizon: the coming 4 hours. */
const SO_DEFAULT_HOURS = 4;

const DESCRIPTIONS: Record<EnergyKind, string> = {
  dmo: "Day-ahead market optimization: tomorrow's charge/discharge schedule from day-ahead prices (once a day).",
  rmo: 'Real-time (intraday) market optimization: re-plans the committed day-ahead position at intraday prices.',
  so: "Storage optimization: the asset's set-points over the coming hours, from its current state of charge.",
};

const DAY_MS = 86_400_000;

/** The first instant of the calendar day `date` (YYYY-MM-DD) in `timeZone`, and the next day's. */
function localDay(date: string, timeZone: string): { start: Date; end: Date } {
  // Noon UTC of that date is inside the local day for every zone within ±12 h.
  return windowBounds(new Date(`${date}T12:00:00Z`), timeZone, '1d');
}

interface Horizon {
  readonly start: string;
  readonly intervals: number;
}

/** The intervals a run of `kind` covers, from its request and the trigger's time. */
function horizonOf(
  kind: EnergyKind,
  request: z.output<typeof EnergyRunRequestSchema>,
  source: EnergySource,
  now: Date,
): Horizon {
  const stepMs = source.intervalMinutes * 60_000;
  if (kind === 'dmo') {
    const date = request.delivery_date ?? localDate(new Date(now.getTime() + DAY_MS), MARKET_TIME_ZONE);
    const { start, end } = localDay(date, MARKET_TIME_ZONE);
    return { start: start.toISOString(), intervals: Math.round((end.getTime() - start.getTime()) / stepMs) };
  }
  const fromMs = request.from !== undefined ? Date.parse(request.from) : Math.floor(now.getTime() / stepMs) * stepMs;
  let intervals = request.intervals;
  if (intervals === undefined) {
    if (kind === 'so') intervals = Math.round((SO_DEFAULT_HOURS * 3_600_000) / stepMs);
    else {
      // RMO: the rest of the market day the horizon starts in.
      const { end } = windowBounds(new Date(fromMs), MARKET_TIME_ZONE, '1d');
      intervals = Math.max(1, Math.ceil((end.getTime() - fromMs) / stepMs));
    }
  }
  return { start: new Date(fromMs).toISOString(), intervals };
}

/** The JSON Schema a client builds an energy request from (model_config spelled out). */
function requestSchema(): Record<string, unknown> {
  const base = z.toJSONSchema(EnergyRunRequestSchema, { io: 'input', unrepresentable: 'any' }) as {
    properties: Record<string, unknown>;
  };
  base.properties['model_config'] = z.toJSONSchema(ModelConfigSchema, { io: 'input', unrepresentable: 'any' });
  return base;
}

async function validateEnergy(
  kind: EnergyKind,
  body: Record<string, unknown>,
  ctx: SubmissionContext,
  prefix: string,
): Promise<Validated<AcceptedRun>> {
  const parsed = EnergyRunRequestSchema.safeParse(body);
  if (!parsed.success) return { ok: false, issues: toFieldIssues(parsed.error, prefix.replace(/\.$/, '')) };
  const request = parsed.data;
  const issues: FieldIssue[] = [];
  const config = parseModelConfig(request.model_config);
  if (!config.ok)
    issues.push(
      ...config.issues.map((i) => ({
        field: `${prefix}${i.field.replace(/^config/, 'model_config')}`,
        reason: i.reason,
      })),
    );
  if (request.from !== undefined && kind === 'dmo')
    issues.push({ field: `${prefix}from`, reason: 'DMO plans a delivery day: give delivery_date instead' });
  if (request.delivery_date !== undefined && kind !== 'dmo')
    issues.push({ field: `${prefix}delivery_date`, reason: `${kind.toUpperCase()} plans from an instant: give from` });
  const source = await ctx.energySources?.energySource(request.data_source_id);
  if (!source)
    issues.push({ field: `${prefix}data_source_id`, reason: `unknown data source "${request.data_source_id}"` });
  if (issues.length > 0 || !source) return { ok: false, issues };

  if (kind === 'rmo' && !source.hasIntraday) {
    const reason = `data source "${source.name}" has no intraday prices, which RMO re-plans at`;
    return { ok: false, issues: [{ field: `${prefix}data_source_id`, reason }] };
  }
  const horizon = horizonOf(kind, request, source, ctx.now ?? new Date());
  const missing = coverage(source.series, horizon.start, horizon.intervals);
  if (missing.length > 0) {
    const reason = `data source "${source.name}" (${source.from} to ${source.to}) does not cover the ${kind.toUpperCase()} horizon of ${horizon.intervals} intervals from ${horizon.start}: ${describeMissing(missing, source.intervalMinutes)}`;
    return { ok: false, issues: [{ field: `${prefix}data_source_id`, reason }] };
  }
  return {
    ok: true,
    value: {
      data: { kind, request, horizon, totalBars: 0 },
      priority: request.priority,
      answer: { horizonStart: horizon.start, intervals: horizon.intervals },
    },
  };
}

/** DMO, RMO and SO as kinds of the registry. DMO runs at most once per market day for a data source. */
export function energyKinds(): SubmittableKind[] {
  return ENERGY_KINDS.map((kind) => {
    const description: KindDescription = {
      name: kind,
      source: 'builtin',
      description: DESCRIPTIONS[kind],
      progressUnit: 'percent',
      requestSchema: requestSchema(),
      policies: {
        maxRetries: 2,
        timeoutSeconds: 900,
        heartbeatSeconds: 2,
        stallSeconds: null,
        // A solve is deterministic: a second try would run out of time again.
        retryOnTimeout: false,
        maxRunsPerWindow: kind === 'dmo' ? { count: 1, window: '1d', timeZone: MARKET_TIME_ZONE } : null,
      },
    };
    return {
      description,
      validate: (body, ctx, prefix = '') => validateEnergy(kind, body, ctx, prefix),
      // DMO's once a day holds per data source (each asset bids its own day-ahead schedule).
      windowKey: (run) => (run.data.kind === 'dmo' ? `dmo_${run.data.request.data_source_id}` : kind),
    };
  });
}
