import { Inject, Injectable, Logger, type OnApplicationBootstrap, type OnApplicationShutdown } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { AckPolicy, DeliverPolicy, type ConsumerMessages, type JsMsg } from '@nats-io/jetstream';
import { nanos } from '@nats-io/nats-core';
import { CONSUMER_SETTINGS, decodeEvent, HEADERS } from '@runforge/contracts';
import { Messaging, RUNFORGE_CONFIG, type RunForgeConfig } from '@runforge/service';
import { setProjectionAppliedSeq } from '@runforge/telemetry';
import { DataSource, type QueryRunner } from 'typeorm';
import { applyBatch, readCheckpoint, writeCheckpoint, type ProjectedMessage } from './runs.projection';
import { ProjectionObserver } from './projection.observer';

const MAX_BATCH = 1000;
/** How long a batch waits for more events once the stream ran dry. */
const LINGER_MS = Number(process.env.PROJECTION_LINGER_MS ?? 25);
/**
 * Under a steady trickle of events, at most one batch transaction starts per this interval: the
 * read models then lag the stream by up to this long, and a run's progress costs a few
 * transactions a second instead of one per event (each is ~8 statements; see docs/architecture.md).
 */
const BATCH_INTERVAL_MS = Number(process.env.PROJECTION_BATCH_INTERVAL_MS ?? 200);
/** How long a delivered event may wait for its batch to commit before NATS delivers it again. */
const ACK_WAIT_SECONDS = Number(process.env.PROJECTION_ACK_WAIT_SECONDS ?? CONSUMER_SETTINGS.projection.ackWaitSeconds);
/** Session advisory lock: one active projection per schema, so events apply in stream order. */
export const LEADER_LOCK = 0x52_46_50_4a; // "RFPJ"
/**
 * Write fence: every batch transaction takes it shared, a rebuild's swap takes it exclusive, so the
 * swap waits for the batch in flight and the next batch waits for the swap (see rebuild/rebuild.ts).
 * A sibling key of the leader lock, because the leader lock is held by a session for its lifetime.
 */
export const WRITE_FENCE_LOCK = 0x52_46_50_57; // "RFPW"

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

export function traceIdOf(traceparent: string | undefined): string | undefined {
  const parts = traceparent?.split('-');
  return parts && parts.length >= 4 && parts[1]?.length === 32 ? parts[1] : undefined;
}

/**
 * Folds `runs.>` into Postgres. The checkpoint (last applied stream sequence) is stored in the same
 * transaction as the rows; messages are acked only after commit. Because the checkpoint is the
 * truth, the durable consumer is (re)created to start right after it, and a message at or below it
 * is acked without effect: a restart or redelivery never double-applies. After a failed batch the
 * loop restarts from the checkpoint, which keeps the stream order.
 */
@Injectable()
export class ProjectionConsumer implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly log = new Logger(ProjectionConsumer.name);
  private messages?: ConsumerMessages;
  private stopped = false;
  private lockRunner?: QueryRunner;
  private loop?: Promise<void>;
  appliedSeq = 0;
  private observer?: ProjectionObserver;
  private leader = false;

  constructor(
    private readonly messaging: Messaging,
    @InjectDataSource() private readonly db: DataSource,
    @Inject(RUNFORGE_CONFIG) private readonly cfg: RunForgeConfig,
  ) {}

  onApplicationBootstrap(): void {
    this.loop = this.run();
  }

  async onApplicationShutdown(): Promise<void> {
    this.stopped = true;
    this.messages?.stop();
    await this.loop?.catch(() => undefined);
    await this.lockRunner?.release().catch(() => undefined);
  }

  private async run(): Promise<void> {
    await this.acquireLeadership();
    while (!this.stopped) {
      try {
        await this.consumeFromCheckpoint();
      } catch (err) {
        if (this.stopped) break;
        this.log.error({ err }, 'projection loop failed; restarting from the checkpoint');
        await new Promise((r) => setTimeout(r, 1000));
      }
    }
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

  private async consumeFromCheckpoint(): Promise<void> {
    const spec = this.cfg.topology.consumers.projection;
    const checkpoint = await readCheckpoint(this.db.manager, this.cfg.dbSchema);
    this.appliedSeq = checkpoint;
    await this.messaging.jsm.consumers.delete(spec.stream, spec.durable).catch(() => undefined);
    await this.messaging.jsm.consumers.add(spec.stream, {
      durable_name: spec.durable,
      filter_subject: spec.filterSubject,
      ack_policy: AckPolicy.Explicit,
      deliver_policy: DeliverPolicy.StartSequence,
      opt_start_seq: checkpoint + 1,
      ack_wait: nanos(ACK_WAIT_SECONDS * 1000),
      max_ack_pending: CONSUMER_SETTINGS.projection.maxAckPending,
    });
    const consumer = await this.messaging.bus.js.consumers.get(spec.stream, spec.durable);
    setProjectionAppliedSeq(checkpoint);
    this.messages = await consumer.consume({ max_messages: MAX_BATCH });
    // Batches close when full, or LINGER_MS after the stream ran dry but no sooner than
    // BATCH_INTERVAL_MS after the previous batch began: a lone event is applied within LINGER_MS,
    // a steady trickle (an optimization's outcomes, a backtest's progress) in a few transactions a
    // second instead of one per event.
    let buffer: JsMsg[] = [];
    let timer: NodeJS.Timeout | undefined;
    let lastFlushAt = Number.NEGATIVE_INFINITY;
    let chain: Promise<void> = Promise.resolve();
    let failure: unknown;
    const flush = (): Promise<void> => {
      clearTimeout(timer);
      timer = undefined;
      if (buffer.length === 0) return chain;
      const msgs = buffer;
      buffer = [];
      lastFlushAt = performance.now();
      chain = chain
        .then(async () => {
          if (failure !== undefined) return;
          const observer = (this.observer ??= new ProjectionObserver(this.db, this.cfg));
          const { fresh, lastSeq } = selectBatch(msgs, this.appliedSeq);
          await observer.observe(fresh, this.appliedSeq, () => this.apply(fresh, lastSeq).then(() => this.appliedSeq));
          for (const m of msgs) m.ack();
        })
        .catch((err: unknown) => {
          // Stop consuming; the caller restarts from the checkpoint, which keeps stream order.
          failure ??= err;
          this.messages?.stop();
        });
      return chain;
    };
    // Deliveries are numbered per consumer, redeliveries included: a gap means some never arrived
    // (a reconnect), and the stream order can only be kept by starting again from the checkpoint.
    let lastDelivery = 0;
    for await (const m of this.messages) {
      if (m.info.deliverySequence !== lastDelivery + 1) {
        failure ??= new Error(
          `deliveries ${lastDelivery + 1}..${m.info.deliverySequence - 1} never arrived; restarting from the checkpoint`,
        );
        this.messages.stop();
        break;
      }
      lastDelivery = m.info.deliverySequence;
      buffer.push(m);
      if (buffer.length >= MAX_BATCH) await flush();
      else if (m.info.pending === 0) {
        const wait = Math.max(LINGER_MS, lastFlushAt + BATCH_INTERVAL_MS - performance.now());
        timer ??= setTimeout(() => void flush(), wait);
      }
    }
    // After a failure what is buffered is not applied (nor acked): the restart reads it again in order.
    if (failure === undefined) await flush();
    else await chain;
    if (failure !== undefined)
      throw failure instanceof Error ? failure : new Error('projection batch failed', { cause: failure });
  }

  /** Applies `msgs` (in stream order, above the checkpoint) and moves the checkpoint to `lastSeq`. */
  private async apply(msgs: readonly JsMsg[], lastSeq: number): Promise<void> {
    const batch: ProjectedMessage[] = [];
    for (const m of msgs) {
      try {
        batch.push({
          seq: m.seq,
          event: decodeEvent(m.json()),
          traceId: traceIdOf(m.headers?.get(HEADERS.traceparent)),
        });
      } catch (err) {
        // A projection never rejects a recorded fact; an undecodable message is logged and skipped.
        this.log.error({ err, seq: m.seq, subject: m.subject }, 'undecodable event skipped');
      }
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
    }
  }
}
