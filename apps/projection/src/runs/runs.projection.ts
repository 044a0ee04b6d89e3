import {
  evolveRun,
  RUN_COLUMNS,
  RUN_ENDING_EVENT_TYPES,
  runFromColumns,
  runToColumns,
  storableJson,
  storableText,
  TERMINAL_STATUSES,
  trialOutcomesOf,
  type RunEvent,
  type RunView,
} from '@runforge/contracts';
import type { StoredRunEvent } from '@runforge/messaging';
import { traceIdOfTraceparent } from '@runforge/telemetry';
import type { EntityManager } from 'typeorm';

export interface ProjectedMessage {
  readonly seq: number;
  readonly event: RunEvent;
  readonly traceId?: string;
}

/**
 * The trace id a run's row keeps: its request's (the fold reads it from `RunRequested` only), so the
 * `traceparent` of any other event — most of them trial outcomes — is neither read nor parsed.
 */
export function traceIdFor(event: RunEvent, traceparent: () => string | undefined): string | undefined {
  return event.type === 'RunRequested' ? traceIdOfTraceparent(traceparent() || undefined) : undefined;
}

/** Events read back from the stream, as the projection applies them. */
export function projected(events: readonly StoredRunEvent[]): ProjectedMessage[] {
  return events.map((e) => ({ seq: e.seq, event: e.event, traceId: traceIdFor(e.event, () => e.traceparent) }));
}

export const PROJECTION_NAME = 'runs';

/** 15 parameters a row: 4,000 rows stay under Postgres' 65,535-parameter limit. */
const TRIAL_ROWS_PER_INSERT = 4_000;

type Row = Record<string, unknown>;

const isEnded = (view: RunView): boolean => TERMINAL_STATUSES.has(view.status);

/**
 * Folds a batch of events into the read models in the caller's transaction. Reads every affected
 * run once (unless `known`), applies `evolveRun` in stream order, and writes each changed row once;
 * returns the affected runs' rows as they now are. Trials and log
 * lines are keyed by trial id / stream sequence, so a redelivered batch changes nothing.
 */
export async function applyBatch(
  em: EntityManager,
  schema: string,
  batch: readonly ProjectedMessage[],
  /**
   * Rows of runs the caller knows to be as stored (the projection's own cache of what it wrote):
   * only the others are read. Must not be stale: the caller drops it when anything else wrote.
   */
  known?: ReadonlyMap<string, RunView>,
  /** Stores this checkpoint in the same statement as the batch's rows. */
  checkpoint?: number,
): Promise<Map<string, RunView>> {
  const views = new Map<string, RunView>();
  if (batch.length === 0) {
    if (checkpoint !== undefined) await writeCheckpoint(em, schema, checkpoint);
    return views;
  }
  const s = `"${schema}"`;
  const unknown: string[] = [];
  for (const id of new Set(batch.map((m) => m.event.runId))) {
    const cached = known?.get(id);
    if (cached) views.set(id, cached);
    else unknown.push(id);
  }
  if (unknown.length > 0) {
    const existing: Row[] = await em.query(`SELECT * FROM ${s}.runs WHERE id = ANY($1)`, [unknown]);
    for (const r of existing) views.set(r.id as string, runFromColumns(r));
  }
  const changed = new Set<string>();

  // Outcomes that arrive after their run ended (trials still running when it was stopped) are not
  // part of it: the run's counts are final at its end (evolveRun), and so is its trials list. Only a
  // batch holding an end, or a run already ended, can have any: only then is the batch folded twice.
  const afterEnd = new Set<number>();
  if (batch.some((m) => RUN_ENDING_EVENT_TYPES.has(m.event.type)) || [...views.values()].some(isEnded)) {
    const probe = new Map(views);
    for (const m of batch) {
      const before = probe.get(m.event.runId);
      if (before && isEnded(before)) afterEnd.add(m.seq);
      const after = evolveRun(before, m.event, { seq: m.seq });
      if (after) probe.set(m.event.runId, after);
    }
  }

  // Trials first: their insert tells which trial ids are new (counting is idempotent per trial id).
  const newTrialIds = new Set<string>();
  const rows: unknown[][] = [];
  const seen = new Set<string>();
  for (const m of batch) {
    if (afterEnd.has(m.seq)) continue;
    for (const o of trialOutcomesOf(m.event)) {
      if (seen.has(o.trialId)) continue;
      seen.add(o.trialId);
      const completed = o.status === 'Completed';
      rows.push([
        o.trialId,
        m.event.runId,
        o.index,
        o.status,
        storableJson(o.params),
        completed ? storableJson(o.metrics) : null,
        completed ? o.score : null,
        completed ? null : storableText(o.errorMessage),
        completed || o.errorStackTrace === undefined ? null : storableText(o.errorStackTrace),
        completed ? null : o.fingerprint,
        o.durationMs,
        o.workerId,
        m.event.attempt,
        m.seq,
        m.event.occurredAt,
      ]);
    }
  }
  // Postgres takes at most 65,535 parameters per statement: insert in chunks.
  for (let i = 0; i < rows.length; i += TRIAL_ROWS_PER_INSERT) {
    const chunk = rows.slice(i, i + TRIAL_ROWS_PER_INSERT);
    const values: unknown[] = [];
    const tuples = chunk.map((row) => {
      const base = values.length;
      values.push(...row);
      return `(${row.map((_, k) => `$${base + k + 1}`).join(',')})`;
    });
    const inserted: { id: string }[] = await em.query(
      `INSERT INTO ${s}.trials (id, run_id, index, status, params, metrics, score, error_message, error_stack_trace,
         fingerprint, duration_ms, worker_id, attempt, seq, occurred_at)
       VALUES ${tuples.join(',')} ON CONFLICT (id) DO NOTHING RETURNING id`,
      values,
    );
    for (const r of inserted) newTrialIds.add(r.id);
  }

  // The batch's writes (log lines, changed runs, the checkpoint) go as one statement: data-modifying
  // CTEs, one round trip instead of one per table.
  const writes = new Writes();
  const logRows: unknown[][] = [];
  // A trial counts when this batch inserted its row, and only at its first outcome in the batch.
  const countedTrials = new Set<string>();
  const countOnce = (trialId: string): boolean => {
    if (!newTrialIds.has(trialId) || countedTrials.has(trialId)) return false;
    countedTrials.add(trialId);
    return true;
  };
  for (const m of batch) {
    const e = m.event;
    if (e.type === 'RunLogged') {
      logRows.push([
        m.seq,
        e.runId,
        e.data.level,
        storableText(e.data.message),
        e.data.context ? storableJson(e.data.context) : null,
        e.attempt,
        e.occurredAt,
      ]);
    }
    const before = views.get(e.runId);
    const after = evolveRun(before, e, { seq: m.seq, traceId: m.traceId, firstSighting: countOnce });
    if (after && after !== before) {
      views.set(e.runId, after);
      changed.add(e.runId);
    }
  }

  if (logRows.length > 0) {
    writes.add(
      `INSERT INTO ${s}.run_logs (seq, run_id, level, message, context, attempt, occurred_at)
       VALUES ${writes.tuples(logRows)} ON CONFLICT (seq) DO NOTHING`,
    );
  }
  if (changed.size > 0) {
    const cols = RUN_COLUMNS;
    const rows = [...changed].map((id) => runToColumns(views.get(id) as RunView));
    writes.add(
      `INSERT INTO ${s}.runs (${cols.join(',')}) VALUES ${writes.tuples(rows)}
       ON CONFLICT (id) DO UPDATE SET ${cols
         .filter((c) => c !== 'id')
         .map((c) => `${c} = EXCLUDED.${c}`)
         .join(', ')}`,
    );
  }
  if (checkpoint !== undefined)
    writes.add(checkpointUpsert(schema, writes.param(PROJECTION_NAME), writes.param(checkpoint)));
  await writes.run(em);
  return views;
}

export async function readCheckpoint(
  em: EntityManager,
  schema: string,
  name = PROJECTION_NAME,
  lock = false,
): Promise<number> {
  const rows: { last_seq: string }[] = await em.query(
    `SELECT last_seq FROM "${schema}".projection_checkpoints WHERE name = $1${lock ? ' FOR UPDATE' : ''}`,
    [name],
  );
  return rows[0] ? Number(rows[0].last_seq) : 0;
}

export async function writeCheckpoint(
  em: EntityManager,
  schema: string,
  seq: number,
  name = PROJECTION_NAME,
): Promise<void> {
  await em.query(checkpointUpsert(schema, '$1', '$2'), [name, seq]);
}

function checkpointUpsert(schema: string, name: string, seq: string): string {
  return `INSERT INTO "${schema}".projection_checkpoints (name, last_seq, updated_at) VALUES (${name}, ${seq}, now())
     ON CONFLICT (name) DO UPDATE SET last_seq = EXCLUDED.last_seq, updated_at = EXCLUDED.updated_at`;
}

/**
 * Several writes as one statement: every write but the last becomes a data-modifying CTE (Postgres
 * runs each of them, whether or not the main statement reads it), sharing one parameter list.
 */
class Writes {
  private readonly statements: string[] = [];
  private readonly values: unknown[] = [];

  /** A placeholder for `value`. */
  param(value: unknown): string {
    this.values.push(value);
    return `$${this.values.length}`;
  }

  /** `(…),(…)` placeholders for rows of values. */
  tuples(rows: readonly (readonly unknown[])[]): string {
    return rows.map((row) => `(${row.map((v) => this.param(v)).join(',')})`).join(',');
  }

  add(sql: string): void {
    this.statements.push(sql);
  }

  async run(em: EntityManager): Promise<void> {
    const last = this.statements.length - 1;
    if (last < 0) return;
    const ctes = this.statements.slice(0, last).map((sql, i) => `w${i} AS (${sql})`);
    const sql =
      ctes.length > 0 ? `WITH ${ctes.join(', ')} ${this.statements[last]}` : (this.statements[last] as string);
    await em.query(sql, this.values);
  }
}
