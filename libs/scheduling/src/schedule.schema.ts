import { z } from 'zod';
import { RUN_WINDOWS } from '@runforge/calendar';
import { toFieldIssues, type BacktestRequest, type FieldIssue, type OptimizationRequest } from '@runforge/contracts';
import type { DatasetCatalog } from '@runforge/datasets';
import { validateBacktestRequest, validateOptimizationRequest, type Validated } from '@runforge/submission';
import { cronProblem, timezoneProblem } from './cadence';

export const OVERLAP_POLICIES = ['skip', 'allow', 'cancel-previous'] as const;
export type OverlapPolicy = (typeof OVERLAP_POLICIES)[number];

export const FIRE_OUTCOMES = ['started', 'skipped', 'limited', 'missed'] as const;
export type FireOutcome = (typeof FIRE_OUTCOMES)[number];

const MaxRunsPerWindowSchema = z
  .object({ count: z.number().int().min(1).max(10_000), window: z.enum(RUN_WINDOWS) })
  .strict();

/** The schedule fields a client sets (POST body; PATCH takes any subset). */
const scheduleFields = {
  name: z.string().trim().min(1).max(100),
  cron: z.string().trim().min(1).max(200),
  timezone: z.string().trim().min(1).max(64),
  overlapPolicy: z.enum(OVERLAP_POLICIES),
  maxRunsPerWindow: MaxRunsPerWindowSchema.nullable(),
  catchupWindowSeconds: z
    .number()
    .int()
    .min(0)
    .max(7 * 86_400),
  paused: z.boolean(),
  /** `{kind: "backtest" | "optimization", ...the request fields}`; validated like the run POSTs. */
  template: z.record(z.string(), z.unknown()),
};

export const CreateScheduleSchema = z
  .object({
    ...scheduleFields,
    timezone: scheduleFields.timezone.default('UTC'),
    overlapPolicy: scheduleFields.overlapPolicy.default('skip'),
    maxRunsPerWindow: scheduleFields.maxRunsPerWindow.default(null),
    catchupWindowSeconds: scheduleFields.catchupWindowSeconds.default(0),
    paused: scheduleFields.paused.default(false),
  })
  .strict();
export type ScheduleDefinition = z.output<typeof CreateScheduleSchema>;

export const PatchScheduleSchema = z.object(scheduleFields).partial().strict();
export type SchedulePatch = z.output<typeof PatchScheduleSchema>;

export type ValidatedTemplate =
  | { kind: 'backtest'; request: BacktestRequest; totalBars: number }
  | { kind: 'optimization'; request: OptimizationRequest; totalBars: number; totalCombinations: number };

/** Validates a run template exactly like `POST /api/backtests` / `POST /api/optimizations`. */
export async function validateTemplate(
  template: unknown,
  catalog?: DatasetCatalog,
  prefix = 'template.',
): Promise<Validated<ValidatedTemplate>> {
  if (template === null || typeof template !== 'object' || Array.isArray(template)) {
    return { ok: false, issues: [{ field: prefix.replace(/\.$/, ''), reason: 'expected a JSON object' }] };
  }
  const { kind, ...request } = template as Record<string, unknown>;
  if (kind === 'backtest') {
    const v = await validateBacktestRequest(request, catalog, prefix);
    return v.ok ? { ok: true, value: { kind, ...v.value } } : v;
  }
  if (kind === 'optimization') {
    const v = await validateOptimizationRequest(request, catalog, prefix);
    return v.ok ? { ok: true, value: { kind, ...v.value } } : v;
  }
  return { ok: false, issues: [{ field: `${prefix}kind`, reason: 'expected "backtest" or "optimization"' }] };
}

/** Cron, time zone and template checks shared by create and update (after merging a patch). */
export async function validateScheduleDefinition(
  def: ScheduleDefinition,
  catalog?: DatasetCatalog,
): Promise<Validated<{ definition: ScheduleDefinition; template: ValidatedTemplate }>> {
  const issues: FieldIssue[] = [];
  const cron = cronProblem(def.cron);
  if (cron) issues.push({ field: 'cron', reason: cron });
  const tz = timezoneProblem(def.timezone);
  if (tz) issues.push({ field: 'timezone', reason: tz });
  const template = await validateTemplate(def.template, catalog);
  if (!template.ok) issues.push(...template.issues);
  if (issues.length > 0 || !template.ok) return { ok: false, issues };
  return { ok: true, value: { definition: def, template: template.value } };
}

/** Parses a POST body and validates it whole: every problem is reported at once. */
export async function validateCreateSchedule(
  body: unknown,
  catalog?: DatasetCatalog,
): Promise<Validated<{ definition: ScheduleDefinition; template: ValidatedTemplate }>> {
  if (body === null || typeof body !== 'object' || Array.isArray(body)) {
    return { ok: false, issues: [{ field: '(body)', reason: 'expected a JSON object' }] };
  }
  const parsed = CreateScheduleSchema.safeParse(body);
  if (!parsed.success) return { ok: false, issues: toFieldIssues(parsed.error) };
  return validateScheduleDefinition(parsed.data, catalog);
}

/** Parses a PATCH body, merges it over the current definition and validates the result. */
export async function validatePatchSchedule(
  current: ScheduleDefinition,
  body: unknown,
  catalog?: DatasetCatalog,
): Promise<Validated<{ definition: ScheduleDefinition; template: ValidatedTemplate; patch: SchedulePatch }>> {
  if (body === null || typeof body !== 'object' || Array.isArray(body)) {
    return { ok: false, issues: [{ field: '(body)', reason: 'expected a JSON object' }] };
  }
  const parsed = PatchScheduleSchema.safeParse(body);
  if (!parsed.success) return { ok: false, issues: toFieldIssues(parsed.error) };
  const patch = parsed.data;
  const merged: ScheduleDefinition = { ...current };
  for (const [k, v] of Object.entries(patch)) if (v !== undefined) (merged as Record<string, unknown>)[k] = v;
  const v = await validateScheduleDefinition(merged, catalog);
  return v.ok ? { ok: true, value: { ...v.value, patch } } : v;
}
