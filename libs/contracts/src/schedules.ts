import { z } from 'zod';
import { ContractError } from './envelope';
import { PrincipalSchema } from './principal';

export const SCHEDULE_CHANGES = ['created', 'updated', 'deleted', 'paused', 'resumed'] as const;
export type ScheduleChange = (typeof SCHEDULE_CHANGES)[number];

/**
 * A schedule was changed through the API (`schedules.<scheduleId>.<change>` on `SCHEDULES`): the
 * scheduler re-plans at once instead of on its next tick, and the stream keeps who changed what, when.
 * The schedule itself lives in Postgres; this is the notice of the change, not its state.
 */
export const ScheduleChangedSchema = z.object({
  type: z.literal('ScheduleChanged'),
  version: z.literal(1),
  scheduleId: z.string().min(1).max(64),
  change: z.enum(SCHEDULE_CHANGES),
  /** The schedule's name after the change (before it, for a deletion). */
  name: z.string().max(200).optional(),
  occurredAt: z.iso.datetime({ offset: true }),
  /** Who changed it (absent in changes recorded before principals were). */
  principal: PrincipalSchema.optional(),
});
export type ScheduleChanged = z.output<typeof ScheduleChangedSchema>;

export function decodeScheduleChanged(raw: unknown): ScheduleChanged {
  const parsed = ScheduleChangedSchema.safeParse(raw);
  if (!parsed.success) {
    throw new ContractError('INVALID_SCHEDULE_CHANGED', `invalid schedule change: ${z.prettifyError(parsed.error)}`, {
      cause: parsed.error,
    });
  }
  return parsed.data;
}
