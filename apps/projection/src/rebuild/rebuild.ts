import type { JetStreamManager } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/nats-core';
import type { Topology } from '@runforge/contracts';
import { dataSourceOptions, runMigrations } from '@runforge/read-models';
import { DataSource } from 'typeorm';
import { WRITE_FENCE_LOCK } from '../runs/projection.consumer';
import { applyBatch, projected, writeCheckpoint } from '../runs/runs.projection';
import { readStream, type ReadLimits } from '@runforge/messaging';

/** The tables the projection owns; other services' tables in the schema are never touched. */
export const PROJECTED_TABLES = ['runs', 'trials', 'run_logs', 'projection_checkpoints'] as const;

const REBUILD_LOCK = 0x52_46_52_42; // "RFRB"

export interface RebuildTarget {
  readonly databaseUrl: string;
  readonly dbSchema: string;
  readonly topology: Topology;
}

export interface RebuildStats {
  readonly events: number;
  readonly skipped: number;
  readonly lastSeq: number;
  readonly runs: number;
  /** Time to fold the stream into the shadow tables (before the swap). */
  readonly foldSeconds: number;
  /** Time the live projection was fenced (catch-up of the tail + table swap). */
  readonly swapMs: number;
  readonly totalSeconds: number;
}

export interface RebuildOptions {
  readonly batchSize?: number;
  readonly log?: (line: string) => void;
  /** Called after the fold, before the swap (tests use it to append events meanwhile). */
  readonly beforeSwap?: () => Promise<void>;
  /** Bounds of the stream reads (bytes in flight, stall timeout); defaults in stream-reader.ts. */
  readonly limits?: Partial<ReadLimits>;
}

/**
 * Rebuilds the read models from stream sequence 1 without stopping the API:
 *  1. migrations create fresh tables in a shadow schema `<schema>_rebuild`;
 *  2. an ephemeral ordered consumer reads the whole stream and the SAME `applyBatch` as the live
 *     projection folds it into the shadow tables, checkpoint included;
 *  3. one transaction takes the projection's write fence exclusively (waiting for the live batch in
 *     flight, holding back the next), folds the tail appended meanwhile, and swaps the projected
 *     tables with `ALTER TABLE … SET SCHEMA` (tables, not the schema: other services keep their
 *     own tables in it). The live projection resumes on the new tables from their checkpoint.
 */
export async function rebuildReadModels(
  target: RebuildTarget,
  nats: { nc: NatsConnection; jsm: JetStreamManager },
  opts: RebuildOptions = {},
): Promise<RebuildStats> {
  const log = opts.log ?? (() => undefined);
  const batchSize = opts.batchSize ?? 2000;
  const live = target.dbSchema;
  const shadow = `${live}_rebuild`;
  const old = `${live}_replaced`;
  if (shadow.length > 63 || old.length > 63) throw new Error(`schema name "${live}" is too long for a rebuild`);
  const started = Date.now();

  await runMigrations({ databaseUrl: target.databaseUrl, dbSchema: live });
  const ds = new DataSource(dataSourceOptions({ databaseUrl: target.databaseUrl, dbSchema: live }));
  await ds.initialize();
  // One rebuild per schema at a time: they would share the shadow schema.
  const guard = ds.createQueryRunner();
  try {
    await guard.connect();
    const locked = (await guard.query('SELECT pg_try_advisory_lock($1, hashtext($2)) AS ok', [REBUILD_LOCK, live])) as {
      ok: boolean;
    }[];
    if (!locked[0]?.ok) throw new Error(`another rebuild of "${live}" is running`);
    await ds.query(`DROP SCHEMA IF EXISTS "${shadow}" CASCADE`);
    await ds.query(`DROP SCHEMA IF EXISTS "${old}" CASCADE`);
    await runMigrations({ databaseUrl: target.databaseUrl, dbSchema: shadow });
    log(`shadow tables ready in "${shadow}"`);

    const stream = target.topology.streams.runs.name;
    const head = (await nats.jsm.streams.info(stream)).state.last_seq;
    log(`folding ${stream} sequences 1..${head}`);
    let events = 0;
    let skipped = 0;
    const first = await readStream(
      nats.nc,
      target.topology,
      { fromSeq: 1, untilSeq: head, batchSize, limits: opts.limits },
      (batch, lastSeq) =>
        ds.transaction(async (em) => {
          await applyBatch(em, shadow, projected(batch));
          await writeCheckpoint(em, shadow, lastSeq);
        }),
    );
    events += first.read;
    skipped += first.skipped;
    const foldSeconds = (Date.now() - started) / 1000;
    log(`folded ${first.read} events in ${foldSeconds.toFixed(1)} s`);
    await opts.beforeSwap?.();

    const swapStart = Date.now();
    const lastSeq = await ds.transaction(async (em) => {
      await em.query('SELECT pg_advisory_xact_lock($1, hashtext($2))', [WRITE_FENCE_LOCK, live]);
      const tailHead = (await nats.jsm.streams.info(stream)).state.last_seq;
      const tail = await readStream(
        nats.nc,
        target.topology,
        { fromSeq: first.lastSeq + 1, untilSeq: tailHead, batchSize, limits: opts.limits },
        async (batch, seq) => {
          await applyBatch(em, shadow, projected(batch));
          await writeCheckpoint(em, shadow, seq);
        },
      );
      events += tail.read;
      skipped += tail.skipped;
      await em.query(`CREATE SCHEMA "${old}"`);
      for (const t of PROJECTED_TABLES) {
        await em.query(`ALTER TABLE "${live}"."${t}" SET SCHEMA "${old}"`);
        await em.query(`ALTER TABLE "${shadow}"."${t}" SET SCHEMA "${live}"`);
      }
      return Math.max(first.lastSeq, tail.lastSeq);
    });
    const swapMs = Date.now() - swapStart;
    await ds.query(`DROP SCHEMA IF EXISTS "${old}" CASCADE`);
    await ds.query(`DROP SCHEMA IF EXISTS "${shadow}" CASCADE`);
    const counted = await ds.query<{ n: string }[]>(`SELECT count(*) AS n FROM "${live}".runs`);
    const runs = Number(counted[0]?.n ?? 0);
    log(`swapped in (${swapMs} ms fenced); ${runs} runs, checkpoint ${lastSeq}`);
    return { events, skipped, lastSeq, runs, foldSeconds, swapMs, totalSeconds: (Date.now() - started) / 1000 };
  } finally {
    await guard.query('SELECT pg_advisory_unlock_all()').catch(() => undefined);
    await guard.release().catch(() => undefined);
    await ds.destroy();
  }
}
