import { DeliverPolicy, type JetStreamClient, type JsMsg } from '@nats-io/jetstream';
import { decodeEvent, HEADERS, type Topology } from '@runforge/contracts';
import type { ProjectedMessage } from '../runs/runs.projection';
import { traceIdOf } from '../runs/projection.consumer';

export interface ReadResult {
  /** Last stream sequence delivered (0 if none). */
  readonly lastSeq: number;
  readonly read: number;
  /** Messages that could not be decoded (skipped, like the live projection does). */
  readonly skipped: number;
}

export function toProjected(m: JsMsg): ProjectedMessage {
  return { seq: m.seq, event: decodeEvent(m.json()), traceId: traceIdOf(m.headers?.get(HEADERS.traceparent)) };
}

/**
 * Reads the whole `runs.>` stream in order from `fromSeq` up to `untilSeq` (inclusive) with an
 * ephemeral ordered consumer (no durable state, no acks), handing decoded batches to `onBatch`.
 * The consumer prefetches while `onBatch` writes, so reading and writing overlap.
 */
export async function readStream(
  js: JetStreamClient,
  t: Topology,
  opts: { fromSeq: number; untilSeq: number; batchSize: number },
  onBatch: (batch: ProjectedMessage[], lastSeq: number) => Promise<void>,
): Promise<ReadResult> {
  let lastSeq = 0;
  let read = 0;
  let skipped = 0;
  if (opts.untilSeq < opts.fromSeq) return { lastSeq, read, skipped };
  const consumer = await js.consumers.get(t.streams.runs.name, {
    filter_subjects: t.consumers.projection.filterSubject,
    deliver_policy: DeliverPolicy.StartSequence,
    opt_start_seq: opts.fromSeq,
  });
  try {
    const info = await consumer.info(true);
    if (info.num_pending === 0) return { lastSeq, read, skipped };
    const messages = await consumer.consume({ max_messages: Math.max(opts.batchSize * 2, 1000) });
    let buffer: ProjectedMessage[] = [];
    for await (const m of messages) {
      read += 1;
      lastSeq = m.seq;
      try {
        buffer.push(toProjected(m));
      } catch {
        skipped += 1;
      }
      const done = m.seq >= opts.untilSeq || m.info.pending === 0;
      if (buffer.length >= opts.batchSize || done) {
        await onBatch(buffer, lastSeq);
        buffer = [];
      }
      if (done) break;
    }
    messages.stop();
  } finally {
    await consumer.delete().catch(() => undefined);
  }
  return { lastSeq, read, skipped };
}
