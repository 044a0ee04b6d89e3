import { Inject, Injectable, Logger, type OnApplicationBootstrap, type OnApplicationShutdown } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { CONSUMER_SETTINGS, HEADERS, type RunEvent, type RunView } from '@runforge/contracts';
import { JetStreamServer, type BatchMessage } from '@runforge/messaging';
import { Messaging, RUNFORGE_CONFIG, type RunForgeConfig } from '@runforge/service';
import { setProjectionAppliedSeq, traceIdOfTraceparent } from '@runforge/telemetry';
import type { PoolClient, QueryResult } from 'pg';
import { DataSource, type EntityManager, type QueryRunner } from 'typeorm';
import { applyBatch, PROJECTION_NAME, readCheckpoint, type ProjectedMessage } from './runs.projection';
import { ProjectionObserver } from './projection.observer';

export const MAX_BATCH = 1000;
/** How long a batch waits for more events after its first one arrived. */
export const LINGER_MS = Number(process.env.PROJECTION_LINGER_MS ?? 2);
/**
 * The share of its time the projection may spend applying batches under a steady stream of events:
 * a batch that took 3 ms lets the next one start 15 ms after it began, so a cheap batch (a few
 * events, at idle) is followed closely and an expensive one is spaced (see
 * docs/architecture.md#projection-batches). Never more than BATCH_MAX_INTERVAL_MS apart.
 */
export const BATCH_DUTY_CYCLE = Number(process.env.PROJECTION_BATCH_DUTY_CYCLE ?? 0.2);
export const BATCH_MAX_INTERVAL_MS = Number(process.env.PROJECTION_BATCH_MAX_INTERVAL_MS ?? 100);
/** Rows the projection keeps of the runs it wrote last, so a batch reads only runs it has not seen. */
const KNOWN_RUNS_MAX = 20_000;
/** How long a delivered event may wait for its batch to commit before NATS delivers it again. */
export const ACK_WAIT_SECONDS = Number(
  process.env.PROJECTION_ACK_WAIT_SECONDS ?? CONSUMER_SETTINGS.projection.ackWaitSeconds,
);
/** Session advisory lock: one active projection per schema, so events apply in stream order. */
export const LEADER_LOCK = 0x52_46_50_4a; // "RFPJ"
/**
 * Write fence: every batch transaction takes it shared, a rebuild's swap takes it exclusive, so the
 * swap waits for the batch in flight and the next batch waits for the swap (see rebuild/rebuild.ts).
 * A sibling key of the leader lock, because the leader lock is held by a session for its lifetime.
 */
export const WRITE_FENCE_LOCK = 0x52_46_50_57; // "RFPW"
/** `text` as a SQL string literal (for the one statement that cannot take parameters). */
const literal = (text: string): string => `'${text.replaceAll("'", "''")}'`;

/** The transport's gate the projection's batches wait on: open while this instance leads. */
export const LEADER_GATE = 'projection-leader';

export interface ProjectionLag {
  /** Last sequence stored in the stream. */
  readonly streamSeq: number;
  /** Last sequence applied to the read models (the checkpoint). */
  readonly appliedSeq: number;
  /** Messages stored but not applied yet (upper bound: sequences, gaps included). */
  readonly lag: number;
  /** Whether this instance holds the leadership (a standby applies nothing). */
  readonly leader: boolean;
}

/**
 * What a batch applies: its messages above the checkpoint, each sequence once, in stream order —
 * not in arrival order. Redeliveries (a batch held past the ack wait) arrive after newer messages;
 * applied as they came, a run's end was folded before outcomes it must count, and a batch whose
 * last arrival was an old redelivery looked already applied, so it was acked and skipped whole.
 * `lastSeq` is the highest sequence seen, the checkpoint once the batch commits.
 */
export function selectBatch<M extends { readonly seq: number }>(
  msgs: readonly M[],
  appliedSeq: number,
): { fresh: M[]; lastSeq: number } {
  const bySeq = new Map<number, M>();
  let lastSeq = appliedSeq;
  for (const m of msgs) {
    if (m.seq > lastSeq) lastSeq = m.seq;
    if (m.seq > appliedSeq && !bySeq.has(m.seq)) bySeq.set(m.seq, m);
  }
  return { fresh: [...bySeq.values()].sort((a, b) => a.seq - b.seq), lastSeq };
}

/**
 * Folds `runs.>` into Postgres (its batches are delivered by the transport to
 * RunsProjectionController). The checkpoint (last applied stream sequence) is stored in the same
 * transaction as the rows; messages are acked only after commit. Because the checkpoint is the truth,
 * the transport (re)creates the durable consumer to start right after it, and a message at or below
 * it is acked without effect: a restart or redelivery never double-applies. One instance leads (a
 * Postgres advisory lock); the transport consumes only while it does.
 */
@Injectable()
export class ProjectionConsumer implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly log = new Logger(ProjectionConsumer.name);
  private stopped = false;
  private lockRunner?: QueryRunner;
  private leadership?: Promise<void>;
  appliedSeq = 0;
  /**
   * The rows this instance wrote, as it wrote them (most recent last). Valid while the stored
   * checkpoint is the one this instance wrote last: anything else that wrote (a rebuild's swap, a
   * former leader) moved it, and the cache is dropped.
   */
  private readonly known = new Map<string, RunView>();
  private observer?: ProjectionObserver;
  private leader = false;

  constructor(
    private readonly messaging: Messaging,
    private readonly transport: JetStreamServer,
    @InjectDataSource() private readonly db: DataSource,
    @Inject(RUNFORGE_CONFIG) private readonly cfg: RunForgeConfig,
  ) {
    // Where the transport starts the projection's consumer: right after the stored checkpoint.
    transport.useStartSequence(async () => {
      this.appliedSeq = await readCheckpoint(this.db.manager, this.cfg.dbSchema);
      setProjectionAppliedSeq(this.appliedSeq);
      return this.appliedSeq;
    });
  }

  onApplicationBootstrap(): void {
    this.leadership = this.acquireLeadership().then(() => {
      if (!this.stopped) this.transport.setGate(LEADER_GATE, true);
    });
  }

  async onApplicationShutdown(): Promise<void> {
    this.stopped = true;
    await this.leadership?.catch(() => undefined);
    await this.lockRunner?.release().catch(() => undefined);
  }

  private async acquireLeadership(): Promise<void> {
    this.lockRunner = this.db.createQueryRunner();
    await this.lockRunner.connect();
    let announced = false;
    while (!this.stopped) {
      const rows = (await this.lockRunner.query('SELECT pg_try_advisory_lock($1, hashtext($2)) AS ok', [
        LEADER_LOCK,
        this.cfg.dbSchema,
      ])) as { ok: boolean }[];
      if (rows[0]?.ok) {
        this.leader = true;
        return;
      }
      if (!announced) this.log.log('another projection instance is active; standing by');
      announced = true;
      await new Promise((r) => setTimeout(r, 2000));
    }
  }

  /**
   * How far the read models trail the stream. The applied side is the stored checkpoint, so a
   * standby (or a rebuild that swapped the tables) reports the truth, not this process's memory.
   */
  async lag(): Promise<ProjectionLag> {
    const [info, appliedSeq] = await Promise.all([
      this.messaging.jsm.streams.info(this.cfg.topology.streams.runs.name),
      readCheckpoint(this.db.manager, this.cfg.dbSchema),
    ]);
    const streamSeq = info.state.last_seq;
    return { streamSeq, appliedSeq, lag: Math.max(0, streamSeq - appliedSeq), leader: this.leader };
  }

  /**
   * Applies a delivered batch: its messages above the checkpoint, each once, in stream order, and moves
   * the checkpoint to the highest sequence seen. Throws if it could not commit (the transport then
   * restarts from the checkpoint, which keeps the stream order).
   */
  async applyDelivered(msgs: readonly BatchMessage<RunEvent>[]): Promise<void> {
    const observer = (this.observer ??= new ProjectionObserver(this.cfg));
    const { fresh, lastSeq } = selectBatch(msgs, this.appliedSeq);
    await observer.observe(fresh, this.appliedSeq, async () => {
      const views = await this.apply(fresh, lastSeq);
      return { appliedSeq: this.appliedSeq, views };
    });
  }

  /**
   * Runs `fn` in a batch transaction, handing it the stored checkpoint: the transaction begins, takes
   * the write fence shared (a rebuild's swap takes it exclusive) and reads the checkpoint locked, in
   * one round trip (three statements in one simple query), then commits after `fn`.
   */
  private async inBatchTransaction<T>(fn: (em: EntityManager, stored: number) => Promise<T>): Promise<T> {
    const runner = this.db.createQueryRunner();
    const client = (await runner.connect()) as PoolClient;
    const schema = this.cfg.dbSchema;
    try {
      const opened = (await client.query(
        `BEGIN; SELECT pg_advisory_xact_lock_shared(${WRITE_FENCE_LOCK}, hashtext(${literal(schema)}));
         SELECT last_seq FROM "${schema}".projection_checkpoints WHERE name = ${literal(PROJECTION_NAME)} FOR UPDATE`,
      )) as unknown as QueryResult<{ last_seq: string }>[];
      const row = opened[2]?.rows[0];
      const result = await fn(runner.manager, row ? Number(row.last_seq) : 0);
      await client.query('COMMIT');
      return result;
    } catch (err) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw err;
    } finally {
      await runner.release();
    }
  }

  /** Applies `msgs` (in stream order, above the checkpoint) and moves the checkpoint to `lastSeq`. */
  private async apply(msgs: readonly BatchMessage<RunEvent>[], lastSeq: number): Promise<ReadonlyMap<string, RunView>> {
    const batch: ProjectedMessage[] = [];
    for (const m of msgs) {
      if (m.data === undefined) {
        // A projection never rejects a recorded fact; an undecodable message is logged and skipped.
        this.log.error({ err: m.error, seq: m.seq, subject: m.subject }, 'undecodable event skipped');
        continue;
      }
      batch.push({
        seq: m.seq,
        event: m.data,
        traceId: traceIdOfTraceparent(m.headers?.get(HEADERS.traceparent) || undefined),
      });
    }
    if (lastSeq <= this.appliedSeq) return new Map();
    const mine = this.appliedSeq;
    try {
      const { applied, views } = await this.inBatchTransaction(async (em, stored) => {
        // Someone else wrote since this instance's last batch: its rows are not the stored ones.
        if (stored !== mine) this.known.clear();
        const fresh = batch.filter((b) => b.seq > stored);
        // A rebuild may have swapped in tables that are already past this batch: never go back.
        const applied = Math.max(stored, lastSeq);
        const views = await applyBatch(em, this.cfg.dbSchema, fresh, this.known, applied);
        return { applied, views };
      });
      this.appliedSeq = applied;
      for (const [id, view] of views) {
        this.known.delete(id);
        this.known.set(id, view);
      }
      for (const id of this.known.keys()) {
        if (this.known.size <= KNOWN_RUNS_MAX) break;
        this.known.delete(id);
      }
      setProjectionAppliedSeq(this.appliedSeq);
      return views;
    } catch (err) {
      // Not committed: what the cache holds may be ahead of the stored rows.
      this.known.clear();
      throw err;
    }
  }
}
