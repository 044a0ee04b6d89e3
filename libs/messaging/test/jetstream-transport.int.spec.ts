import 'reflect-metadata';
import { Controller, Logger, Module, type INestMicroservice } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { Ctx, EventPattern, Payload } from '@nestjs/microservices';
import type { JetStreamManager } from '@nats-io/jetstream';
import { nanos, type NatsConnection } from '@nats-io/nats-core';
import { createEvent, type RunDispatch, type RunEvent } from '@runforge/contracts';
import {
  batch,
  connectNats,
  JetStreamClient,
  JetStreamContext,
  JetStreamServer,
  provisionTopology,
  pull,
  type BatchMessage,
} from '@runforge/messaging';
import { eventually } from '../../../test/support/eventually';
import { cleanupIsolation, NATS_URL, newIsolation, type Isolation } from '../../../test/support/system';

// The transport against a real NATS: a Nest microservice whose only handler is bound to the run
// dispatch consumers (engine-high, engine-normal), as the engine worker's is.

interface Seen {
  readonly runId: string;
  readonly priority: string;
  readonly deliveryCount: number;
}

/** What the handler saw, and how long it holds a message before acking it. */
const probe: { seen: Seen[]; holdMs: number } = { seen: [], holdMs: 0 };

@Controller()
class DispatchProbeController {
  @EventPattern('RunDispatch', pull({ consumers: ['engineHigh', 'engineNormal'], ack: 'manual' }))
  async dispatch(@Payload() d: RunDispatch, @Ctx() ctx: JetStreamContext): Promise<void> {
    probe.seen.push({ runId: d.runId, priority: d.priority, deliveryCount: ctx.deliveryCount });
    if (probe.holdMs > 0) await new Promise((r) => setTimeout(r, probe.holdMs));
    await ctx.ackAck();
  }
}

@Module({ controllers: [DispatchProbeController] })
class ProbeModule {}

/** The batches a batch binding handed over (stream sequences, redelivered or not); each is held a while. */
const batches: { seqs: number[]; redelivered: number }[] = [];
/** A batch closes at this many messages; the test's backlog is several times more. */
const BATCH_MAX = 100;

@Controller()
class BatchProbeController {
  @EventPattern(
    'runs.>',
    batch({
      consumer: 'projection',
      maxMessages: BATCH_MAX,
      lingerMs: 2,
      minIntervalMs: 50,
      // Far longer than the test waits: what is applied came by delivery, never by redelivery.
      ackWaitSeconds: 300,
      maxAckPending: 20_000,
    }),
  )
  async apply(@Payload() messages: BatchMessage<RunEvent>[]): Promise<void> {
    batches.push({ seqs: messages.map((m) => m.seq), redelivered: messages.filter((m) => m.redelivered).length });
    // A slow apply: while it runs, the backlog keeps arriving, and the buffer outgrows a batch.
    await new Promise((r) => setTimeout(r, 100));
  }
}

@Module({ controllers: [BatchProbeController] })
class BatchProbeModule {}

const dispatch = (runId: string, priority: 'high' | 'normal'): RunDispatch => ({
  type: 'RunDispatch',
  version: 1,
  runId,
  kind: 'backtest',
  priority,
});

describe('JetStreamServer: handlers bound with @EventPattern to durable pull consumers', () => {
  let iso: Isolation;
  let nc: NatsConnection;
  let jsm: JetStreamManager;
  let client: JetStreamClient;
  let app: INestMicroservice | undefined;

  async function startTransport(): Promise<void> {
    const server = new JetStreamServer();
    server.useConnection(() => ({ nc, topology: iso.topology }));
    app = await NestFactory.createMicroservice(ProbeModule, { strategy: server, logger: false });
    await app.listen();
  }

  beforeAll(async () => {
    Logger.overrideLogger(false);
    iso = newIsolation();
    nc = await connectNats(NATS_URL, 'transport-int');
    jsm = await provisionTopology(nc, iso.topology);
    client = new JetStreamClient(nc, iso.topology);
  });

  afterEach(async () => {
    await app?.close();
    app = undefined;
    probe.seen = [];
    probe.holdMs = 0;
  });

  afterAll(async () => {
    await nc.close();
    await cleanupIsolation(iso);
  });

  it('applies a backlog several batches long in full batches, none of it left waiting for a redelivery', async () => {
    const backlog = 7 * BATCH_MAX + 37;
    const meta = { runId: 'backlog-1', attempt: 1, occurredAt: new Date().toISOString() };
    await Promise.all(
      Array.from({ length: backlog }, (_, i) =>
        client.publishEvent(createEvent('RunLogged', meta, { level: 'INFO', message: `line ${i}` }), {
          discriminator: i,
        }),
      ),
    );
    const server = new JetStreamServer();
    server.useConnection(() => ({ nc, topology: iso.topology }));
    server.useStartSequence(() => Promise.resolve(0));
    app = await NestFactory.createMicroservice(BatchProbeModule, { strategy: server, logger: false });
    await app.listen();
    await eventually(
      'the whole backlog to be applied',
      () => Promise.resolve(new Set(batches.flatMap((b) => b.seqs)).size),
      (n) => n === backlog,
    );
    expect(batches.every((b) => b.seqs.length <= BATCH_MAX)).toBe(true);
    expect(batches.reduce((n, b) => n + b.redelivered, 0)).toBe(0);
    expect(batches.flatMap((b) => b.seqs)).toEqual(Array.from({ length: backlog }, (_, i) => i + 1));
  });

  it('takes high-priority messages first, and after four in a row lets a waiting normal one go first once', async () => {
    for (let i = 0; i < 6; i++) await client.dispatchRun(dispatch(`prio-h${i}`, 'high'));
    for (let i = 0; i < 2; i++) await client.dispatchRun(dispatch(`prio-n${i}`, 'normal'));
    await startTransport();
    const seen = await eventually(
      'all eight to be handled',
      () => Promise.resolve(probe.seen),
      (s) => s.length === 8,
    );
    expect(seen.map((s) => s.runId)).toEqual([
      'prio-h0',
      'prio-h1',
      'prio-h2',
      'prio-h3',
      'prio-n0',
      'prio-h4',
      'prio-h5',
      'prio-n1',
    ]);
  });

  it('renews the lease of a message its handler holds past the ack wait: it is delivered once', async () => {
    const spec = iso.topology.consumers.engineNormal;
    await jsm.consumers.update(spec.stream, spec.durable, { ack_wait: nanos(1_000) });
    try {
      probe.holdMs = 3_500; // three and a half ack waits
      await client.dispatchRun(dispatch('lease-1', 'normal'));
      await startTransport();
      await eventually(
        'the held message to be acked',
        () => jsm.consumers.info(spec.stream, spec.durable),
        (i) => i.num_ack_pending === 0 && i.num_pending === 0 && probe.seen.length > 0,
      );
      expect(probe.seen).toEqual([{ runId: 'lease-1', priority: 'normal', deliveryCount: 1 }]);
    } finally {
      await jsm.consumers.update(spec.stream, spec.durable, { ack_wait: nanos(5_000) });
    }
  });

  it('terminates a message that fails its contract instead of handing it to the handler or redelivering it', async () => {
    await startTransport();
    await nc.request(iso.topology.runDispatchSubject('normal'), new TextEncoder().encode('{"type":"RunDispatch"}'));
    await client.dispatchRun(dispatch('after-garbage', 'normal'));
    const spec = iso.topology.consumers.engineNormal;
    await eventually(
      'both to be settled',
      () => jsm.consumers.info(spec.stream, spec.durable),
      (i) => i.num_ack_pending === 0 && i.num_pending === 0 && probe.seen.length > 0,
    );
    expect(probe.seen.map((s) => s.runId)).toEqual(['after-garbage']);
  });
});
