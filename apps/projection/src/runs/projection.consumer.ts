import { Inject, Injectable, Logger, type OnApplicationBootstrap, type OnApplicationShutdown } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { AckPolicy, DeliverPolicy, type ConsumerMessages, type JsMsg } from '@nats-io/jetstream';
import { nanos } from '@nats-io/nats-core';
import { CONSUMER_SETTINGS, decodeEvent, HEADERS } from '@runforge/contracts';
import { Messaging, RUNFORGE_CONFIG, type RunForgeConfig } from '@runforge/platform';
import { DataSource, type QueryRunner } from 'typeorm';
import { applyBatch, readCheckpoint, writeCheckpoint, type ProjectedMessage } from './runs.projection';

const MAX_BATCH = 1000;
/** Session advisory lock: one active projection per schema, so events apply in stream order. */
const LEADER_LOCK = 0x52_46_50_4a; // "RFPJ"

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
      if (rows[0]?.ok) return;
      if (!announced) this.log.log('another projection instance is active; standing by');
      announced = true;
      await new Promise((r) => setTimeout(r, 2000));
    }
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
      ack_wait: nanos(CONSUMER_SETTINGS.projection.ackWaitSeconds * 1000),
      max_ack_pending: CONSUMER_SETTINGS.projection.maxAckPending,
    });
    const consumer = await this.messaging.bus.js.consumers.get(spec.stream, spec.durable);
    this.messages = await consumer.consume({ max_messages: MAX_BATCH });
    let buffer: JsMsg[] = [];
    for await (const m of this.messages) {
      buffer.push(m);
      if (m.info.pending > 0 && buffer.length < MAX_BATCH) continue;
      await this.apply(buffer);
      buffer = [];
    }
  }

  private async apply(msgs: JsMsg[]): Promise<void> {
    const batch: ProjectedMessage[] = [];
    for (const m of msgs) {
      if (m.seq <= this.appliedSeq) continue;
      try {
        batch.push({ seq: m.seq, event: decodeEvent(m.json()), traceId: traceIdOf(m.headers?.get(HEADERS.traceparent)) });
      } catch (err) {
        // A projection never rejects a recorded fact; an undecodable message is logged and skipped.
        this.log.error({ err, seq: m.seq, subject: m.subject }, 'undecodable event skipped');
      }
    }
    const last = msgs[msgs.length - 1];
    if (!last) return;
    const lastSeq = Math.max(this.appliedSeq, last.seq);
    if (lastSeq > this.appliedSeq) {
      await this.db.transaction(async (em) => {
        const stored = await readCheckpoint(em, this.cfg.dbSchema, undefined, true);
        const fresh = batch.filter((b) => b.seq > stored);
        await applyBatch(em, this.cfg.dbSchema, fresh);
        await writeCheckpoint(em, this.cfg.dbSchema, lastSeq);
      });
      this.appliedSeq = lastSeq;
    }
    for (const m of msgs) m.ack();
  }
}
