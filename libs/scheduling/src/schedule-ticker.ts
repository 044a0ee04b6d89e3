import { nextFireTimes, planFires } from './cadence';
import { decideFire, type FireDeps, type FireResult } from './schedule-fires';

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
  /** Next fire time per schedule cursor: an idle tick then costs one query, not one cron walk per schedule. */
  private readonly nextFire = new Map<string, { key: string; next: number }>();

  constructor(
    private readonly deps: FireDeps,
    /** Schedules decided in parallel (each schedule's fires stay in order). */
    private readonly concurrency = 8,
  ) {}

  async tick(now: Date): Promise<TickReport> {
    const s = `"${(this.deps.db.options as { schema?: string }).schema ?? 'public'}"`;
    const rows = await this.deps.db.query<ScheduleCursor[]>(
      `SELECT id, cron, timezone, catchup_window_seconds, evaluated_until FROM ${s}.schedules WHERE evaluated_until < $1`,
      [now],
    );
    const seen = new Set<string>();
    const due: ScheduleCursor[] = [];
    for (const sc of rows) {
      seen.add(sc.id);
      const key = `${sc.cron}\u0000${sc.timezone}\u0000${sc.evaluated_until.getTime()}`;
      let cached = this.nextFire.get(sc.id);
      if (cached?.key !== key) {
        cached = { key, next: nextFireTimes(sc, sc.evaluated_until, 1)[0]?.getTime() ?? Infinity };
        this.nextFire.set(sc.id, cached);
      }
      if (cached.next <= now.getTime()) due.push(sc);
    }
    for (const id of this.nextFire.keys()) if (!seen.has(id)) this.nextFire.delete(id);

    const decided: TickReport['decided'][number][] = [];
    const errors: { scheduleId: string; error: unknown }[] = [];
    let alreadyDecided = 0;
    // Replicas start at different offsets, so they mostly claim different schedules of a burst
    // instead of queueing on the same row locks.
    const offset = due.length ? Math.floor(Math.random() * due.length) : 0;
    const queue = [...due.slice(offset), ...due.slice(0, offset)];
    const worker = async (): Promise<void> => {
      for (let sc = queue.shift(); sc; sc = queue.shift()) {
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
            else break; // busy (retried next tick: the cursor stays before this fire) or deleted
          }
        } catch (error) {
          // The cursor did not pass the failed fire: the next tick decides it again (idempotently).
          errors.push({ scheduleId: sc.id, error });
        }
      }
    };
    await Promise.all(Array.from({ length: Math.min(this.concurrency, queue.length) }, worker));
    return { schedules: rows.length, decided, alreadyDecided, errors };
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
