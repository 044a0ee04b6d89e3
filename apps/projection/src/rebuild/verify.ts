import type { NatsConnection } from '@nats-io/nats-core';
import {
  evolveRun,
  RUN_FIELD_NAMES,
  RUN_FIELDS,
  runFromColumns,
  storableJson,
  storableText,
  TERMINAL_STATUSES,
  trialOutcomesOf,
  type RunFieldName,
  type RunView,
} from '@runforge/contracts';
import { dataSourceOptions } from '@runforge/read-models';
import { DataSource } from 'typeorm';
import { readCheckpoint } from '../runs/runs.projection';
import type { RebuildTarget } from './rebuild';
import { jetstreamManager } from '@nats-io/jetstream';
import { readStream, type ReadLimits } from '@runforge/messaging';
import { traceIdOfTraceparent } from '@runforge/telemetry';

export interface Difference {
  readonly runId: string;
  readonly field: string;
  readonly live: unknown;
  readonly replayed: unknown;
}

export interface VerifyReport {
  /** The live checkpoint when the read models were read. */
  readonly checkpoint: number;
  /** The stream's last sequence when verify started: the stream is folded up to here (or the checkpoint, if later). */
  readonly streamSeq: number;
  readonly events: number;
  readonly runs: number;
  readonly differences: Difference[];
}

/** JSON with sorted keys: jsonb does not keep key order. */
export function canonical(v: unknown): string {
  if (v === null || typeof v !== 'object') return JSON.stringify(v) ?? 'undefined';
  if (Array.isArray(v)) return `[${v.map(canonical).join(',')}]`;
  const o = v as Record<string, unknown>;
  return `{${Object.keys(o)
    .filter((k) => o[k] !== undefined)
    .sort()
    .map((k) => `${JSON.stringify(k)}:${canonical(o[k])}`)
    .join(',')}}`;
}

function normalise(key: RunFieldName, v: unknown): unknown {
  if (v === null || v === undefined) return null;
  const stored = RUN_FIELDS[key].stored;
  if (stored === 'timestamptz') return new Date(v as string).toISOString();
  // As stored: Postgres holds U+0000 as U+FFFD (storableText).
  if (stored === 'jsonb' || stored === 'json') return canonical(JSON.parse(storableJson(v)));
  if (typeof v === 'string') v = storableText(v);
  if (typeof v === 'string' && /^-?\d+$/.test(v) && (key === 'totalCombinations' || key === 'attempt'))
    return Number(v);
  return v;
}

interface Tally {
  trialsCompleted: number;
  trialsFailed: number;
  logs: number;
  logSeqSum: number;
}

const emptyTally = (): Tally => ({ trialsCompleted: 0, trialsFailed: 0, logs: 0, logSeqSum: 0 });

/** The difference verify reports when the read models have not applied the whole stream. */
export const BEHIND_STREAM = { runId: '(stream)', field: 'checkpoint' } as const;

export interface VerifyOptions {
  readonly limits?: Partial<ReadLimits>;
  /**
   * How long to wait for the live checkpoint to reach the stream's last sequence before reading the
   * read models (a running projection a few batches behind is given the time to catch up); 0 by default.
   */
  readonly catchUpMs?: number;
}

/** Reads the checkpoint until it reaches `target` or `ms` pass; returns the last value read. */
async function awaitCheckpoint(ds: DataSource, schema: string, target: number, ms: number): Promise<number> {
  const deadline = performance.now() + ms;
  for (;;) {
    const seq = await readCheckpoint(ds.manager, schema);
    if (seq >= target || performance.now() >= deadline) return seq;
    await new Promise((r) => setTimeout(r, 100));
  }
}

/**
 * Folds the WHOLE stream again (up to its last sequence when verify starts, or the live checkpoint if
 * that is later), independently of the projection's SQL (plain `evolveRun` in memory, trials counted
 * once per trial id, log lines by sequence), and compares every column of every run plus its trial
 * and log tallies with the live rows, read in one snapshot. Read models behind the stream are a
 * difference (`BEHIND_STREAM`, plus the rows the unapplied tail changes): never "equal" while behind.
 */
export async function verifyReadModels(
  target: RebuildTarget,
  nc: NatsConnection,
  opts: VerifyOptions = {},
): Promise<VerifyReport> {
  const jsm = await jetstreamManager(nc);
  const streamSeq = (await jsm.streams.info(target.topology.streams.runs.name)).state.last_seq;
  const ds = new DataSource(dataSourceOptions({ databaseUrl: target.databaseUrl, dbSchema: target.dbSchema }));
  await ds.initialize();
  const s = `"${target.dbSchema}"`;
  let checkpoint: number;
  let liveRows: Record<string, unknown>[];
  const liveTally = new Map<string, Tally>();
  try {
    await awaitCheckpoint(ds, target.dbSchema, streamSeq, opts.catchUpMs ?? 0);
    const q = ds.createQueryRunner();
    await q.connect();
    try {
      await q.query('START TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY');
      checkpoint = await readCheckpoint(q.manager, target.dbSchema);
      liveRows = (await q.query(`SELECT * FROM ${s}.runs`)) as Record<string, unknown>[];
      const trials = (await q.query(
        `SELECT run_id, status, count(*) AS n FROM ${s}.trials GROUP BY run_id, status`,
      )) as {
        run_id: string;
        status: string;
        n: string;
      }[];
      for (const t of trials) {
        const tally = liveTally.get(t.run_id) ?? emptyTally();
        if (t.status === 'Completed') tally.trialsCompleted += Number(t.n);
        else tally.trialsFailed += Number(t.n);
        liveTally.set(t.run_id, tally);
      }
      const logs = (await q.query(
        `SELECT run_id, count(*) AS n, sum(seq) AS s FROM ${s}.run_logs GROUP BY run_id`,
      )) as {
        run_id: string;
        n: string;
        s: string;
      }[];
      for (const l of logs) {
        const tally = liveTally.get(l.run_id) ?? emptyTally();
        tally.logs = Number(l.n);
        tally.logSeqSum = Number(l.s);
        liveTally.set(l.run_id, tally);
      }
      await q.query('COMMIT');
    } finally {
      await q.release();
    }
  } finally {
    await ds.destroy();
  }

  const views = new Map<string, RunView>();
  const tallies = new Map<string, Tally>();
  const seenTrials = new Set<string>();
  const untilSeq = Math.max(checkpoint, streamSeq);
  const range = { fromSeq: 1, untilSeq, batchSize: 5000, limits: opts.limits };
  const read = await readStream(nc, target.topology, range, (batch) => {
    for (const m of batch) {
      if (m.seq > untilSeq) break;
      const e = m.event;
      // Trials first seen in this event: each counts once, in the tally and in the fold; none once
      // the run has ended (the projection keeps those out of the trials list too).
      const before = views.get(e.runId);
      const ended = before !== undefined && TERMINAL_STATUSES.has(before.status);
      const fresh = new Set<string>();
      for (const o of ended ? [] : trialOutcomesOf(e)) {
        if (seenTrials.has(o.trialId) || fresh.has(o.trialId)) continue;
        fresh.add(o.trialId);
        const t = tallies.get(e.runId) ?? emptyTally();
        if (o.status === 'Completed') t.trialsCompleted += 1;
        else t.trialsFailed += 1;
        tallies.set(e.runId, t);
      }
      const uncounted = new Set(fresh);
      if (e.type === 'RunLogged') {
        const t = tallies.get(e.runId) ?? emptyTally();
        t.logs += 1;
        t.logSeqSum += m.seq;
        tallies.set(e.runId, t);
      }
      const after = evolveRun(before, e, {
        seq: m.seq,
        traceId: traceIdOfTraceparent(m.traceparent),
        firstSighting: (trialId) => uncounted.delete(trialId),
      });
      if (after) views.set(e.runId, after);
      for (const id of fresh) seenTrials.add(id);
    }
    return Promise.resolve();
  });

  const differences: Difference[] = [];
  if (checkpoint < streamSeq) differences.push({ ...BEHIND_STREAM, live: checkpoint, replayed: streamSeq });
  const liveById = new Map(liveRows.map((r) => [r.id as string, runFromColumns(r)]));
  for (const id of new Set([...liveById.keys(), ...views.keys()])) {
    const l = liveById.get(id);
    const r = views.get(id);
    if (!l || !r) {
      differences.push({
        runId: id,
        field: '(row)',
        live: l ? 'present' : 'missing',
        replayed: r ? 'present' : 'missing',
      });
      continue;
    }
    for (const key of RUN_FIELD_NAMES) {
      const a = normalise(key, l[key]);
      const b = normalise(key, r[key]);
      if (a !== b) differences.push({ runId: id, field: key, live: a, replayed: b });
    }
  }
  for (const id of new Set([...liveTally.keys(), ...tallies.keys()])) {
    const a = liveTally.get(id) ?? emptyTally();
    const b = tallies.get(id) ?? emptyTally();
    for (const k of Object.keys(a) as (keyof Tally)[]) {
      if (a[k] !== b[k]) differences.push({ runId: id, field: k, live: a[k], replayed: b[k] });
    }
  }
  return { checkpoint, streamSeq, events: read.read, runs: views.size, differences };
}
