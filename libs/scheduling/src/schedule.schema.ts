import { z } from 'zod';
import { RUN_WINDOWS } from '@runforge/calendar';
import { toFieldIssues, type FieldIssue } from '@runforge/contracts';
import { KindRegistry, type AcceptedRun, type SubmissionContext, type Validated } from '@runforge/submission';
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
  /** `{kind, ...the kind's request fields}` for any kind `GET /api/kinds` lists; validated like `POST /api/runs`. */
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

/** A run template that its kind accepted (`KindRegistry`), ready to publish. */
export type ValidatedTemplate = AcceptedRun & { readonly kind: string };

/** What validating a template looks up: the kinds (built-in and declared programs) and the datasets. */
export interface TemplateContext extends SubmissionContext {
  readonly kinds?: KindRegistry;
}

/** The kinds a template may name when the caller gives none: the built-in ones. */
export const BUILTIN_KINDS = new KindRegistry();

/** Validates a run template exactly like `POST /api/runs` does: `{kind, ...the kind's request}`. */
export function validateTemplate(
  template: unknown,
  ctx: TemplateContext = {},
  prefix = 'template.',
): Promise<Validated<ValidatedTemplate>> {
  return (ctx.kinds ?? BUILTIN_KINDS).validate(template, ctx, prefix);
}

/** Cron, time zone and template checks shared by create and update (after merging a patch). */
export async function validateScheduleDefinition(
  def: ScheduleDefinition,
  ctx: TemplateContext = {},
): Promise<Validated<{ definition: ScheduleDefinition; template: ValidatedTemplate }>> {
  const issues: FieldIssue[] = [];
  const cron = cronProblem(def.cron);
  if (cron) issues.push({ field: 'cron', reason: cron });
  const tz = timezoneProblem(def.timezone);
  if (tz) issues.push({ field: 'timezone', reason: tz });
  const template = await validateTemplate(def.template, ctx);
  if (!template.ok) issues.push(...template.issues);
  if (issues.length > 0 || !template.ok) return { ok: false, issues };
  return { ok: true, value: { definition: def, template: template.value } };
}

/** Parses a POST body and validates it whole: every problem is reported at once. */
export async function validateCreateSchedule(
  body: unknown,
  ctx: TemplateContext = {},
): Promise<Validated<{ definition: ScheduleDefinition; template: ValidatedTemplate }>> {
  if (body === null || typeof body !== 'object' || Array.isArray(body)) {
    return { ok: false, issues: [{ field: '(body)', reason: 'expected a JSON object' }] };
  }
  const parsed = CreateScheduleSchema.safeParse(body);
  if (!parsed.success) return { ok: false, issues: toFieldIssues(parsed.error) };
  return validateScheduleDefinition(parsed.data, ctx);
}

/** Parses a PATCH body, merges it over the current definition and validates the result. */
export async function validatePatchSchedule(
  current: ScheduleDefinition,
  body: unknown,
  ctx: TemplateContext = {},
): Promise<Validated<{ definition: ScheduleDefinition; template: ValidatedTemplate; patch: SchedulePatch }>> {
  if (body === null || typeof body !== 'object' || Array.isArray(body)) {
    return { ok: false, issues: [{ field: '(body)', reason: 'expected a JSON object' }] };
  }
  const parsed = PatchScheduleSchema.safeParse(body);
  if (!parsed.success) return { ok: false, issues: toFieldIssues(parsed.error) };
  const patch = parsed.data;
  const merged: ScheduleDefinition = { ...current };
  for (const [k, v] of Object.entries(patch)) if (v !== undefined) (merged as Record<string, unknown>)[k] = v;
  const v = await validateScheduleDefinition(merged, ctx);
  return v.ok ? { ok: true, value: { ...v.value, patch } } : v;
}
