import { planFires, decideFire, type FireDeps, type FireResult } from '@runforge/platform';

export interface TickReport {
  readonly schedules: number;
  readonly decided: readonly (Extract<FireResult, { claimed: true }> & { scheduleId: string })[];
  /** Fires another replica had already decided. */
  readonly alreadyDecided: number;
  readonly errors: readonly { scheduleId: string; error: unknown }[];
}

interface ScheduleCursor {
  id: string;
  cron: string;
  timezone: string;
  catchup_window_seconds: number;
  evaluated_until: Date;
}

/**
 * One scheduler tick: reads every schedule (so changes apply on the next tick, no restart), plans
 * its fires in `(evaluated_until, now]` with the pure core and decides each one. Safe to run on
 * several replicas at once: each fire is claimed in Postgres before anything is published.
 * The clock is the caller's (`now`): tests drive it; the service passes the wall clock.
 */
export class ScheduleTicker {
  constructor(private readonly deps: FireDeps) {}

  async tick(now: Date): Promise<TickReport> {
    const s = `"${(this.deps.db.options as { schema?: string }).schema ?? 'public'}"`;
    const schedules = await this.deps.db.query<ScheduleCursor[]>(
      `SELECT id, cron, timezone, catchup_window_seconds, evaluated_until FROM ${s}.schedules WHERE evaluated_until < $1`,
      [now],
    );
    const decided: TickReport['decided'][number][] = [];
    const errors: { scheduleId: string; error: unknown }[] = [];
    let alreadyDecided = 0;
    for (const sc of schedules) {
      try {
        const plan = planFires(
          { cron: sc.cron, timezone: sc.timezone, catchupWindowSeconds: sc.catchup_window_seconds },
          sc.evaluated_until,
          now,
        );
        for (const fire of plan.fires) {
          const r = await decideFire(this.deps, sc.id, {
            triggeredBy: 'schedule',
            fireTime: fire.fireTime,
            now,
            missedReason: fire.action === 'missed' ? fire.reason : undefined,
          });
          if (r.claimed) decided.push({ ...r, scheduleId: sc.id });
          else if (r.why === 'already-decided') alreadyDecided += 1;
        }
      } catch (error) {
        // The cursor did not pass the failed fire: the next tick decides it again (idempotently).
        errors.push({ scheduleId: sc.id, error });
      }
    }
    return { schedules: schedules.length, decided, alreadyDecided, errors };
  }

  /** Deletes fire records older than `olderThan` (they only explain the past). */
  async prune(olderThan: Date): Promise<number> {
    const s = `"${(this.deps.db.options as { schema?: string }).schema ?? 'public'}"`;
    const r = await this.deps.db.query<[unknown, number]>(`DELETE FROM ${s}.schedule_fires WHERE fire_time < $1`, [
      olderThan,
    ]);
    return r[1];
  }
}
