import { ConflictException, Injectable, NotFoundException } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { nextFireTimes, type ScheduleDefinition } from '@runforge/scheduling';
import { RunRow, ScheduleFireRow, ScheduleRow, schemaOf } from '@runforge/read-models';
import { DataSource, EntityManager, In, QueryFailedError } from 'typeorm';
import type { QueryDeepPartialEntity } from 'typeorm/query-builder/QueryPartialEntity';
import { v7 as uuidv7 } from 'uuid';

export const NEXT_FIRE_TIMES = 5;
export const RECENT_FIRES = 20;
export const LAST_RUNS = 10;

export interface ScheduleView {
  id: string;
  name: string;
  cron: string;
  timezone: string;
  overlapPolicy: ScheduleRow['overlapPolicy'];
  maxRunsPerWindow: { count: number; window: '1d' } | null;
  catchupWindowSeconds: number;
  paused: boolean;
  template: Record<string, unknown>;
  createdAt: string;
  updatedAt: string;
  /** The next fire times (while paused, they are recorded as skipped). */
  nextFireTimes: string[];
}

export interface FireView {
  fireTime: string;
  triggeredBy: 'schedule' | 'manual';
  outcome: ScheduleFireRow['outcome'];
  reason: string | null;
  runId?: string;
  decidedAt: string;
}

export interface ScheduleRunView {
  id: string;
  kind: string;
  status: string;
  triggeredBy: string;
  requestedAt: string;
  completedAt: string | null;
}

export type ScheduleDetails = ScheduleView & { recentFires: FireView[]; lastRuns: ScheduleRunView[] };

function definitionOf(row: ScheduleRow): ScheduleDefinition {
  return {
    name: row.name,
    cron: row.cron,
    timezone: row.timezone,
    overlapPolicy: row.overlapPolicy,
    maxRunsPerWindow:
      row.maxRunsCount !== null && row.maxRunsWindow !== null
        ? { count: row.maxRunsCount, window: row.maxRunsWindow }
        : null,
    catchupWindowSeconds: row.catchupWindowSeconds,
    paused: row.paused,
    template: row.template,
  };
}

function isUniqueViolation(err: unknown): boolean {
  return err instanceof QueryFailedError && (err.driverError as { code?: string } | undefined)?.code === '23505';
}

/** Schedules in Postgres: the gateway writes definitions; the scheduler reads them every tick. */
@Injectable()
export class ScheduleStore {
  constructor(@InjectDataSource() private readonly db: DataSource) {}

  async find(id: string): Promise<ScheduleRow | undefined> {
    return (await this.db.getRepository(ScheduleRow).findOneBy({ id })) ?? undefined;
  }

  async get(id: string): Promise<ScheduleRow> {
    const row = await this.find(id);
    if (!row)
      throw new NotFoundException({ statusCode: 404, error: 'Not Found', message: `no schedule with id "${id}"` });
    return row;
  }

  definition(row: ScheduleRow): ScheduleDefinition {
    return definitionOf(row);
  }

  async create(def: ScheduleDefinition, now: Date): Promise<ScheduleRow> {
    const row = this.db.getRepository(ScheduleRow).create({
      id: uuidv7(),
      ...this.columns(def),
      // Fires start after creation: nothing before it is "missed".
      evaluatedUntil: now,
      createdAt: now,
      updatedAt: now,
    });
    try {
      await this.db.getRepository(ScheduleRow).insert(row as QueryDeepPartialEntity<ScheduleRow>);
    } catch (err) {
      if (isUniqueViolation(err)) throw this.nameTaken(def.name);
      throw err;
    }
    return row;
  }

  async update(current: ScheduleRow, def: ScheduleDefinition, now: Date): Promise<ScheduleRow> {
    const cadenceChanged = def.cron !== current.cron || def.timezone !== current.timezone;
    const resumed = current.paused && !def.paused;
    try {
      await this.db.transaction(async (m) => {
        await m
          .getRepository(ScheduleRow)
          .update({ id: current.id }, { ...this.columns(def), updatedAt: now } as QueryDeepPartialEntity<ScheduleRow>);
        if (cadenceChanged || resumed) await this.moveCursor(m, current.id, now);
      });
    } catch (err) {
      if (isUniqueViolation(err)) throw this.nameTaken(def.name);
      throw err;
    }
    return this.get(current.id);
  }

  async setPaused(id: string, paused: boolean, now: Date): Promise<ScheduleRow> {
    const current = await this.get(id);
    await this.db.transaction(async (m) => {
      await m.getRepository(ScheduleRow).update({ id }, { paused, updatedAt: now });
      // Resuming does not catch up what the pause held back.
      if (!paused && current.paused) await this.moveCursor(m, id, now);
    });
    return this.get(id);
  }

  async delete(id: string): Promise<void> {
    const r = await this.db.getRepository(ScheduleRow).delete({ id });
    if (!r.affected) await this.get(id); // throws the 404
  }

  async list(): Promise<ScheduleRow[]> {
    return this.db.getRepository(ScheduleRow).find({ order: { createdAt: 'ASC', id: 'ASC' }, take: 1000 });
  }

  view(row: ScheduleRow, now: Date): ScheduleView {
    const from = row.evaluatedUntil > now ? row.evaluatedUntil : now;
    return {
      id: row.id,
      ...definitionOf(row),
      createdAt: row.createdAt.toISOString(),
      updatedAt: row.updatedAt.toISOString(),
      nextFireTimes: nextFireTimes(row, from, NEXT_FIRE_TIMES).map((d) => d.toISOString()),
    };
  }

  async details(row: ScheduleRow, now: Date): Promise<ScheduleDetails> {
    const fires = await this.db.getRepository(ScheduleFireRow).find({
      where: { scheduleId: row.id },
      order: { fireTime: 'DESC', id: 'DESC' },
      take: RECENT_FIRES,
    });
    const runs = await this.db.getRepository(RunRow).find({
      where: { scheduleId: row.id },
      order: { requestedAt: 'DESC', id: 'DESC' },
      take: LAST_RUNS,
    });
    // A run requested a moment ago is not projected yet: it shows from its fire record as Pending.
    const started = fires.filter((f) => f.outcome === 'started' && f.runId !== null);
    const known = new Set(runs.map((r) => r.id));
    const missing = started.map((f) => f.runId as string).filter((id) => !known.has(id));
    const older = missing.length ? await this.db.getRepository(RunRow).findBy({ id: In(missing) }) : [];
    const lastRuns: ScheduleRunView[] = [...runs, ...older].map((r) => ({
      id: r.id,
      kind: r.kind,
      status: r.status,
      triggeredBy: r.triggeredBy,
      requestedAt: r.requestedAt.toISOString(),
      completedAt: r.completedAt ? r.completedAt.toISOString() : null,
    }));
    const listed = new Set(lastRuns.map((r) => r.id));
    for (const f of started) {
      if (listed.has(f.runId as string)) continue;
      lastRuns.push({
        id: f.runId as string,
        kind: typeof row.template.kind === 'string' ? row.template.kind : 'backtest',
        status: 'Pending',
        triggeredBy: f.triggeredBy,
        requestedAt: f.decidedAt.toISOString(),
        completedAt: null,
      });
    }
    lastRuns.sort((x, y) => (x.requestedAt < y.requestedAt ? 1 : x.requestedAt > y.requestedAt ? -1 : 0));
    return {
      ...this.view(row, now),
      recentFires: fires.map((f) => ({
        fireTime: f.fireTime.toISOString(),
        triggeredBy: f.triggeredBy,
        outcome: f.outcome,
        reason: f.reason,
        ...(f.runId ? { runId: f.runId } : {}),
        decidedAt: f.decidedAt.toISOString(),
      })),
      lastRuns: lastRuns.slice(0, LAST_RUNS),
    };
  }

  private columns(def: ScheduleDefinition): Omit<ScheduleRow, 'id' | 'evaluatedUntil' | 'createdAt' | 'updatedAt'> {
    return {
      name: def.name,
      cron: def.cron,
      timezone: def.timezone,
      overlapPolicy: def.overlapPolicy,
      maxRunsCount: def.maxRunsPerWindow?.count ?? null,
      maxRunsWindow: def.maxRunsPerWindow?.window ?? null,
      catchupWindowSeconds: def.catchupWindowSeconds,
      paused: def.paused,
      template: def.template,
    };
  }

  /** The next tick starts from `now`: fires of an old cadence or of a pause are not caught up. */
  private async moveCursor(m: EntityManager, id: string, now: Date): Promise<void> {
    const s = `"${schemaOf(this.db)}"`;
    await m.query(`UPDATE ${s}.schedules SET evaluated_until = GREATEST(evaluated_until, $2) WHERE id = $1`, [id, now]);
  }

  private nameTaken(name: string): ConflictException {
    return new ConflictException({
      statusCode: 409,
      error: 'Conflict',
      message: `a schedule named "${name}" already exists`,
    });
  }
}
