import type { JetStreamManager } from '@nats-io/jetstream';
import type { Topology } from '@runforge/contracts';
import { Gauge } from 'prom-client';
import { metricsRegistry, projectionMetrics } from './registry';

interface ConsumerState {
  readonly stream: string;
  readonly consumer: string;
  readonly pending: number;
  readonly ackPending: number;
  readonly redelivered: number;
  readonly waiting: number;
}

interface Snapshot {
  readonly streams: { readonly stream: string; readonly messages: number; readonly lastSeq: number }[];
  readonly consumers: ConsumerState[];
}

let binding: { jsm: JetStreamManager; topology: Topology } | undefined;
let snapshot: { at: number; value: Promise<Snapshot> } | undefined;
let appliedSeq: number | undefined;

/** Scrapes read the streams and consumers through this JetStream manager (PlatformModule binds it). */
export function bindJetStreamMetrics(jsm: JetStreamManager, topology: Topology): void {
  binding = { jsm, topology };
  snapshot = undefined;
}

/** The projection reports its checkpoint; the projection-lag gauge is served where it is known. */
export function setProjectionAppliedSeq(seq: number): void {
  appliedSeq = seq;
  projectionMetrics.appliedSeq.set(seq);
}

async function read(): Promise<Snapshot> {
  if (!binding) return { streams: [], consumers: [] };
  const { jsm, topology: t } = binding;
  const streams: Snapshot['streams'] = [];
  for (const spec of [t.streams.runs, t.streams.work]) {
    const info = await jsm.streams.info(spec.name).catch(() => undefined);
    if (info) streams.push({ stream: spec.name, messages: info.state.messages, lastSeq: info.state.last_seq });
  }
  const consumers: ConsumerState[] = [];
  for (const spec of [t.consumers.engineHigh, t.consumers.engineNormal, t.consumers.projection, t.consumers.trials]) {
    const info = await jsm.consumers.info(spec.stream, spec.durable).catch(() => undefined);
    if (!info) continue;
    consumers.push({
      stream: spec.stream,
      consumer: spec.durable,
      pending: info.num_pending,
      ackPending: info.num_ack_pending,
      redelivered: info.num_redelivered,
      waiting: info.num_waiting,
    });
  }
  return { streams, consumers };
}

/** One read of JetStream per scrape, shared by every gauge below (they collect concurrently). */
function current(): Promise<Snapshot> {
  const now = Date.now();
  if (!snapshot || now - snapshot.at > 500)
    snapshot = { at: now, value: read().catch(() => ({ streams: [], consumers: [] })) };
  return snapshot.value;
}

function consumerGauge(name: string, help: string, pick: (c: ConsumerState) => number): Gauge<'stream' | 'consumer'> {
  return new Gauge({
    name,
    help,
    labelNames: ['stream', 'consumer'] as const,
    registers: [metricsRegistry],
    async collect() {
      this.reset();
      for (const c of (await current()).consumers) this.set({ stream: c.stream, consumer: c.consumer }, pick(c));
    },
  });
}

export const jetStreamMetrics = {
  pending: consumerGauge(
    'runforge_consumer_pending_messages',
    'Messages in the stream not yet delivered to the durable consumer (its backlog)',
    (c) => c.pending,
  ),
  ackPending: consumerGauge(
    'runforge_consumer_ack_pending_messages',
    'Messages delivered to the consumer and not yet acknowledged (in flight)',
    (c) => c.ackPending,
  ),
  redelivered: consumerGauge(
    'runforge_consumer_redelivered_messages',
    'Messages currently pending acknowledgement that were delivered more than once',
    (c) => c.redelivered,
  ),
  waiting: consumerGauge(
    'runforge_consumer_waiting_pulls',
    'Pull requests waiting on the consumer (idle workers)',
    (c) => c.waiting,
  ),
  streamMessages: new Gauge({
    name: 'runforge_stream_messages',
    help: 'Messages stored in the stream',
    labelNames: ['stream'] as const,
    registers: [metricsRegistry],
    async collect() {
      this.reset();
      for (const s of (await current()).streams) this.set({ stream: s.stream }, s.messages);
    },
  }),
  projectionLag: new Gauge({
    name: 'runforge_projection_lag_messages',
    help: 'RUNS stream last sequence minus the projection checkpoint (served by the projection)',
    registers: [metricsRegistry],
    async collect() {
      this.reset();
      if (appliedSeq === undefined || !binding) return;
      const runs = (await current()).streams.find((s) => s.stream === binding?.topology.streams.runs.name);
      if (runs) this.set(Math.max(0, runs.lastSeq - appliedSeq));
    },
  }),
};
