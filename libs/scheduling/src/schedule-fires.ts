import { windowBounds, type RunWindow } from '@runforge/calendar';
import { createEvent, SCHEDULER_PRINCIPAL, type Principal } from '@runforge/contracts';
import type { DataSource, QueryRunner } from 'typeorm';
import type { DatasetCatalog, EnergySourceCatalog } from '@runforge/datasets';
import type { JetStreamClient, StreamReader } from '@runforge/messaging';
import { newRunId, submitAccepted, type KindRegistry, type RunWindowClaims } from '@runforge/submission';
import { ATTRS, SPANS, SpanKind, withSpanFromTraceparent } from '@runforge/telemetry';
import { scheduledMessageId, scheduledRunId } from './cadence';
import { BUILTIN_KINDS, validateTemplate, type FireOutcome, type OverlapPolicy } from './schedule.schema';

export interface FireDeps {
  readonly db: DataSource;
  /** Publishes the runs a fire starts (and the cancellations of `cancel-previous`). */
  readonly client: JetStreamClient;
  /** Reads whether a schedule's earlier runs have ended. */
  readonly reader: StreamReader;
  /** Names the deciding process in the fire record (`decided_by`). */
  readonly instanceId: string;
  readonly datasets?: DatasetCatalog;
  readonly energySources?: EnergySourceCatalog;
  /** The kinds a template may name (built-in only when absent). */
  readonly kinds?: KindRegistry;
  /** Where a fire claims its kind's `maxRunsPerWindow` (kinds' windows are not enforced when absent). */
  readonly windows?: RunWindowClaims;
}

export type FireRequest =
  /** A cron fire; `missedReason` records it as missed without running it. */
  | { readonly triggeredBy: 'schedule'; readonly fireTime: Date; readonly now: Date; readonly missedReason?: string }
  /** `POST /api/schedules/{id}/trigger`: fires at `now`. */
  | { readonly triggeredBy: 'manual'; readonly now: Date; readonly principal: Principal };

export type FireResult =
  /** `busy`: another transaction holds the schedule (a cron fire is then retried on the next tick). */
  | { readonly claimed: false; readonly why: 'unknown-schedule' | 'already-decided' | 'busy' }
  | {
      readonly claimed: true;
      readonly fireTime: Date;
      readonly outcome: FireOutcome;
      readonly reason: string | null;
      readonly runId: string | null;
      /** For `limited`: the start of the next window. */
      readonly nextAllowedAt?: Date;
      /** Runs asked to cancel by `cancel-previous`. */
      readonly cancelled: readonly string[];
    };

interface LockedSchedule {
  id: string;
  timezone: string;
  overlap_policy: OverlapPolicy;
  max_runs_count: number | null;
  max_runs_window: RunWindow | null;
  template: Record<string, unknown>;
  paused: boolean;
}

function schemaOf(db: DataSource): string {
  return `"${(db.options as { schema?: string }).schema ?? 'public'}"`;
}

/**
 * Decides one fire and, when it starts a run, publishes its `RunRequested` — all under a row lock
 * on the schedule, so that two replicas, or a cron fire and a manual trigger, never both count
 * against the same window or both see "no active run". A scheduled fire is first *claimed*
 * (`INSERT … ON CONFLICT DO NOTHING` on the schedule and fire time): only the claimant decides.
 *
 * The publish happens before the commit: if the process dies in between, the claim rolls back and
 * the next tick (of any replica) decides again and publishes the identical message (same run id,
 * same `Nats-Msg-Id`), which JetStream's duplicate window drops. No fire is recorded as started
 * without its `RunRequested` in the stream.
 */
export async function decideFire(deps: FireDeps, scheduleId: string, req: FireRequest): Promise<FireResult> {
  const s = schemaOf(deps.db);
  const qr = deps.db.createQueryRunner();
  await qr.connect();
  try {
    await qr.startTransaction();
    const result = await decideLocked(qr, s, deps, scheduleId, req);
    await qr.commitTransaction();
    return result;
  } catch (err) {
    if (qr.isTransactionActive) await qr.rollbackTransaction().catch(() => undefined);
    throw err;
  } finally {
    await qr.release();
  }
}

async function decideLocked(
  qr: QueryRunner,
  s: string,
  deps: FireDeps,
  scheduleId: string,
  req: FireRequest,
): Promise<FireResult> {
  const fireTime = req.triggeredBy === 'schedule' ? req.fireTime : req.now;
  if (req.triggeredBy === 'schedule') {
    // Cheap check first: with several replicas, most fires a replica sees were decided by another.
    const decided = (await qr.query(
      `SELECT 1 FROM ${s}.schedule_fires WHERE schedule_id = $1 AND fire_time = $2 AND triggered_by = 'schedule'`,
      [scheduleId, fireTime],
    )) as unknown[];
    if (decided.length > 0) return { claimed: false, why: 'already-decided' };
  }
  // A cron fire does not wait for a row another replica (or a manual trigger) is deciding: it is
  // retried on the next tick, well inside the lateness tolerance. A manual trigger waits.
  const rows = (await qr.query(
    `SELECT id, timezone, overlap_policy, max_runs_count, max_runs_window, template, paused
       FROM ${s}.schedules WHERE id = $1 FOR UPDATE${req.triggeredBy === 'schedule' ? ' SKIP LOCKED' : ''}`,
    [scheduleId],
  )) as LockedSchedule[];
  const schedule = rows[0];
  if (!schedule) {
    if (req.triggeredBy === 'schedule') {
      const exists = (await qr.query(`SELECT 1 FROM ${s}.schedules WHERE id = $1`, [scheduleId])) as unknown[];
      if (exists.length > 0) return { claimed: false, why: 'busy' };
    }
    return { claimed: false, why: 'unknown-schedule' };
  }

  const claim = (await qr.query(
    req.triggeredBy === 'schedule'
      ? `INSERT INTO ${s}.schedule_fires (schedule_id, fire_time, triggered_by, outcome, decided_at, decided_by)
         VALUES ($1, $2, 'schedule', 'skipped', $3, $4)
         ON CONFLICT (schedule_id, fire_time) WHERE triggered_by = 'schedule' DO NOTHING RETURNING id`
      : `INSERT INTO ${s}.schedule_fires (schedule_id, fire_time, triggered_by, outcome, decided_at, decided_by)
         VALUES ($1, $2, 'manual', 'skipped', $3, $4) RETURNING id`,
    [scheduleId, fireTime, req.now, deps.instanceId],
  )) as { id: string }[];
  const fireId = claim[0]?.id;
  if (fireId === undefined) return { claimed: false, why: 'already-decided' };
  if (req.triggeredBy === 'schedule') {
    await qr.query(`UPDATE ${s}.schedules SET evaluated_until = GREATEST(evaluated_until, $2) WHERE id = $1`, [
      scheduleId,
      fireTime,
    ]);
  }

  const record = async (
    outcome: FireOutcome,
    reason: string | null,
    runId: string | null = null,
    extra: { nextAllowedAt?: Date; cancelled?: string[] } = {},
  ): Promise<FireResult> => {
    await qr.query(`UPDATE ${s}.schedule_fires SET outcome = $2, reason = $3, run_id = $4 WHERE id = $1`, [
      fireId,
      outcome,
      reason,
      runId,
    ]);
    return {
      claimed: true,
      fireTime,
      outcome,
      reason,
      runId,
      nextAllowedAt: extra.nextAllowedAt,
      cancelled: extra.cancelled ?? [],
    };
  };

  if (req.triggeredBy === 'schedule' && req.missedReason) return record('missed', req.missedReason);
  if (req.triggeredBy === 'schedule' && schedule.paused) return record('skipped', 'the schedule is paused');

  // maxRunsPerWindow: every started run of the schedule counts, manual ones included.
  if (schedule.max_runs_count !== null && schedule.max_runs_window !== null) {
    const { start, end } = windowBounds(fireTime, schedule.timezone, schedule.max_runs_window);
    const started = (await qr.query(
      `SELECT run_id, fire_time FROM ${s}.schedule_fires
        WHERE schedule_id = $1 AND outcome = 'started' AND fire_time >= $2 AND fire_time < $3
        ORDER BY fire_time`,
      [scheduleId, start, end],
    )) as { run_id: string; fire_time: Date }[];
    if (started.length >= schedule.max_runs_count) {
      const runs = started.map((r) => `${r.run_id} at ${r.fire_time.toISOString()}`).join(', ');
      return record(
        'limited',
        `at most ${schedule.max_runs_count} run(s) per calendar day (${schedule.max_runs_window}) in ${schedule.timezone}; ` +
          `this window [${start.toISOString()}, ${end.toISOString()}) already has: ${runs}; next run allowed from ${end.toISOString()}`,
        null,
        { nextAllowedAt: end },
      );
    }
  }

  // Overlap: a run of this schedule is active while its row says Pending/Running, or while the
  // projection has not recorded it yet (it was published moments ago) — unless the stream, which
  // is ahead of the projection, already holds its terminal event.
  const candidates = (await qr.query(
    `SELECT f.run_id, COALESCE(r.status, 'Pending') AS status FROM ${s}.schedule_fires f
       LEFT JOIN ${s}.runs r ON r.id = f.run_id
      WHERE f.schedule_id = $1 AND f.outcome = 'started' AND f.run_id IS NOT NULL
        AND (r.id IS NULL OR r.status IN ('Pending', 'Running'))
      ORDER BY f.fire_time DESC LIMIT 100`,
    [scheduleId],
  )) as { run_id: string; status: string }[];
  const active = await stillActive(deps.reader, candidates);
  const cancelled: string[] = [];
  if (active.length > 0) {
    const list = active.map((a) => `${a.run_id} (${a.status})`).join(', ');
    switch (schedule.overlap_policy) {
      case 'skip':
        return record('skipped', `overlap policy "skip": the previous run ${list} of this schedule is still active`);
      case 'cancel-previous':
        for (const a of active) {
          const event = createEvent(
            'RunCancellationRequested',
            { runId: a.run_id, attempt: 0, occurredAt: req.now.toISOString() },
            {
              requestedBy: 'schedule',
              reason: `superseded by the schedule's fire at ${fireTime.toISOString()}`,
              principal: principalOf(req),
            },
          );
          await deps.client.publishEvent(event, { discriminator: `schedule:${fireTime.toISOString()}` });
          cancelled.push(a.run_id);
        }
        break;
      case 'allow':
        break;
      default: {
        const never: never = schedule.overlap_policy;
        throw new Error(`unknown overlap policy ${String(never)}`);
      }
    }
  }

  const template = await validateTemplate(schedule.template, { ...deps, now: fireTime });
  if (!template.ok) {
    const why = template.issues.map((i) => `${i.field}: ${i.reason}`).join('; ');
    return record('skipped', `the run template is no longer valid: ${why}`);
  }
  const scheduled = req.triggeredBy === 'schedule';
  const opts = {
    triggeredBy: req.triggeredBy,
    principal: principalOf(req),
    scheduleId,
    runId: scheduled ? scheduledRunId(scheduleId, fireTime) : newRunId(),
    msgId: scheduled ? scheduledMessageId(scheduleId, fireTime) : `schedule:${scheduleId}:manual:${fireId}`,
    now: req.now,
  };
  const v = template.value;
  // The kind's own window (e.g. once a day), which every trigger counts: claimed before publishing.
  // The fire is the root of the run's trace (like the gateway's request for an API run).
  const publish = () =>
    withSpanFromTraceparent(
      SPANS.scheduler.fire,
      undefined,
      { [ATTRS.scheduleId]: scheduleId, [ATTRS.runKind]: v.kind, [ATTRS.runId]: opts.runId },
      () => submitAccepted(deps.client, v, opts),
      { kind: SpanKind.PRODUCER },
    );
  const window = (deps.kinds ?? BUILTIN_KINDS).windowOf(v);
  const published = deps.windows
    ? await deps.windows.publishWithin(window, opts.runId, req.now, publish)
    : { ok: true as const, value: await publish() };
  if (!published.ok) return record('limited', published.message, null, { nextAllowedAt: published.nextAllowedAt });
  const { runId } = published.value;
  const reason =
    cancelled.length > 0 ? `overlap policy "cancel-previous": asked ${cancelled.join(', ')} to cancel` : null;
  return record('started', reason, runId, { cancelled });
}

const TERMINAL_EVENTS = ['RunCompleted', 'RunFailed', 'RunCancelled'] as const;

/**
 * Drops the runs whose terminal event is already in the stream: the read model may lag, and a run
 * that finished a second before the fire must not make it skip.
 */
async function stillActive(
  reader: StreamReader,
  candidates: readonly { run_id: string; status: string }[],
): Promise<{ run_id: string; status: string }[]> {
  const out: { run_id: string; status: string }[] = [];
  for (const c of candidates) {
    const ended = await Promise.all(TERMINAL_EVENTS.map((t) => reader.lastOfType(c.run_id, t)));
    if (!ended.some((e) => e !== undefined)) out.push(c);
  }
  return out;
}

/** Who a fire acts for: the scheduler for a cron fire, the caller of a manual trigger. */
function principalOf(req: FireRequest): Principal {
  return req.triggeredBy === 'manual' ? req.principal : SCHEDULER_PRINCIPAL;
}
