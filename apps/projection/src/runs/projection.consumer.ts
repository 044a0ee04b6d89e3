import { Inject, Injectable, Logger, type OnApplicationBootstrap, type OnApplicationShutdown } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { CONSUMER_SETTINGS, HEADERS, type RunEvent } from '@runforge/contracts';
import { JetStreamServer, type BatchMessage } from '@runforge/messaging';
import { Messaging, RUNFORGE_CONFIG, type RunForgeConfig } from '@runforge/service';
import { setProjectionAppliedSeq, traceIdOfTraceparent } from '@runforge/telemetry';
import { DataSource, type QueryRunner } from 'typeorm';
import { applyBatch, readCheckpoint, writeCheckpoint, type ProjectedMessage } from './runs.projection';
import { ProjectionObserver } from './projection.observer';
import { StallWatch, type StallState } from './stall-watch';

export const MAX_BATCH = 1000;
/** How long a batch waits for more events after its first one arrived. */
export const LINGER_MS = Number(process.env.PROJECTION_LINGER_MS ?? 25);
/**
 * Under a steady trickle of events, at most one batch transaction starts per this interval: the
 * read models then lag the stream by up to this long, and a run's progress costs a few
 * transactions a second instead of one per event (each is ~8 statements; see docs/architecture.md).
 */
export const BATCH_INTERVAL_MS = Number(process.env.PROJECTION_BATCH_INTERVAL_MS ?? 200);
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
/** The transport's gate the projection's batches wait on: open while this instance leads. */
export const LEADER_GATE = 'projection-leader';
/** Events waiting and the checkpoint still for this long: the projection is stalled (not ready, a WARNING). */
export const STALL_SECONDS = Number(process.env.PROJECTION_STALL_SECONDS ?? 30);

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

/** Rejects with a timeout error unless `p` settles within `ms`. */
function within<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: no answer within ${ms} ms`)), ms);
  });
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
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
  private observer?: ProjectionObserver;
  private leader = false;
  private readonly stall = new StallWatch(STALL_SECONDS * 1000);
  private stallTimer?: NodeJS.Timeout;

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
    const every = Math.max(250, Math.min(5000, (STALL_SECONDS * 1000) / 4));
    this.stallTimer = setInterval(() => void this.watchProgress(), every);
  }

  async onApplicationShutdown(): Promise<void> {
    this.stopped = true;
    clearInterval(this.stallTimer);
    await this.leadership?.catch(() => undefined);
    await this.lockRunner?.release().catch(() => undefined);
  }

  /** The last look at progress: stalled while events wait and the checkpoint stands still. */
  get progress(): StallState {
    return this.stall.state;
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

  /** One look at progress; logs a stall as a WARNING with the numbers, and its end. */
  private async watchProgress(): Promise<void> {
    let lag: ProjectionLag;
    try {
      lag = await within(this.lag(), 2000, 'reading the lag');
    } catch {
      return; // NATS or Postgres unreachable: their own readiness checks say so
    }
    const notice = this.stall.look(performance.now(), lag.streamSeq, lag.appliedSeq);
    const s = this.stall.state;
    const numbers = { ...lag, stalledSeconds: Math.round(s.stillForMs / 1000) };
    if (notice === 'stalled' || notice === 'still-stalled') {
      this.log.warn(
        numbers,
        `projection stalled: checkpoint ${lag.appliedSeq} has not moved for ${numbers.stalledSeconds} s ` +
          `while ${lag.lag} event(s) wait (stream at ${lag.streamSeq}, leader: ${lag.leader})`,
      );
    } else if (notice === 'recovered') {
      this.log.warn(numbers, `projection progressing again: checkpoint ${lag.appliedSeq}, lag ${lag.lag}`);
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
    const observer = (this.observer ??= new ProjectionObserver(this.db, this.cfg));
    const { fresh, lastSeq } = selectBatch(msgs, this.appliedSeq);
    await observer.observe(fresh, this.appliedSeq, () => this.apply(fresh, lastSeq).then(() => this.appliedSeq));
  }

  /** Applies `msgs` (in stream order, above the checkpoint) and moves the checkpoint to `lastSeq`. */
  private async apply(msgs: readonly BatchMessage<RunEvent>[], lastSeq: number): Promise<void> {
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
    if (lastSeq > this.appliedSeq) {
      this.appliedSeq = await this.db.transaction(async (em) => {
        await em.query('SELECT pg_advisory_xact_lock_shared($1, hashtext($2))', [WRITE_FENCE_LOCK, this.cfg.dbSchema]);
        const stored = await readCheckpoint(em, this.cfg.dbSchema, undefined, true);
        const fresh = batch.filter((b) => b.seq > stored);
        await applyBatch(em, this.cfg.dbSchema, fresh);
        // A rebuild may have swapped in tables that are already past this batch: never go back.
        const applied = Math.max(stored, lastSeq);
        await writeCheckpoint(em, this.cfg.dbSchema, applied);
        return applied;
      });
      setProjectionAppliedSeq(this.appliedSeq);
    }
  }
}
