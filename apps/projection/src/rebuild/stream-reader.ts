import type { Msg, NatsConnection } from '@nats-io/nats-core';
import { decodeEvent, HEADERS, type Topology } from '@runforge/contracts';
import type { ProjectedMessage } from '../runs/runs.projection';
import { traceIdOf } from '../runs/projection.consumer';
import { BoundedPull } from './bounded-pull';

export { StreamReadError, STREAM_READ_ERROR_CODES, type StreamReadErrorCode } from './bounded-pull';

export interface ReadResult {
  /** Last stream sequence delivered (0 if none). */
  readonly lastSeq: number;
  readonly read: number;
  /** Messages that could not be decoded (skipped, like the live projection does). */
  readonly skipped: number;
}

/** How much a read may hold and how long it may wait (see docs/operations.md, "Replay, rebuild, verify"). */
export interface ReadLimits {
  /**
   * Bytes of events requested from NATS plus received and not yet batched. Well below the server's
   * per-client `max_pending` (64 MB by default), which cuts off a client that falls further behind.
   * Raised to the server's `max_payload` (+4 KiB) if lower, so any single event fits.
   */
  readonly maxPendingBytes: number;
  /** A batch handed to `onBatch` closes at `batchSize` events or this many bytes, whichever comes first. */
  readonly batchBytes: number;
  /** A read that waits this long for a message while some are pending fails with `StreamReadError`. */
  readonly stallMs: number;
  /** The server deletes the read's consumer after this long without a pull (the reader died mid-read). */
  readonly inactiveThresholdMs: number;
}

export const DEFAULT_READ_LIMITS: ReadLimits = {
  maxPendingBytes: 16 * 1024 * 1024,
  batchBytes: 8 * 1024 * 1024,
  stallMs: 30_000,
  inactiveThresholdMs: 60_000,
};

/** `STREAM_READ_MAX_BYTES` and `STREAM_READ_STALL_SECONDS`, as the operator commands take them. */
export function readLimitsFromEnv(env: NodeJS.ProcessEnv): Partial<ReadLimits> {
  const positive = (name: string): number | undefined => {
    const raw = env[name];
    if (raw === undefined || raw === '') return undefined;
    const n = Number(raw);
    if (!Number.isFinite(n) || n <= 0) throw new Error(`${name} must be a positive number, got "${raw}"`);
    return n;
  };
  const maxBytes = positive('STREAM_READ_MAX_BYTES');
  const stallSeconds = positive('STREAM_READ_STALL_SECONDS');
  return {
    ...(maxBytes === undefined ? {} : { maxPendingBytes: Math.floor(maxBytes) }),
    ...(stallSeconds === undefined ? {} : { stallMs: stallSeconds * 1000 }),
  };
}

function toProjected(seq: number, m: Msg): ProjectedMessage {
  return { seq, event: decodeEvent(m.json()), traceId: traceIdOf(m.headers?.get(HEADERS.traceparent)) };
}

/**
 * Reads the `runs.>` stream in order from `fromSeq` up to `untilSeq` (inclusive) with an ephemeral
 * consumer (no durable state, no acks), handing decoded batches to `onBatch` one at a time. The next
 * batch is read while `onBatch` writes the previous one, and what is in flight stays within
 * `limits.maxPendingBytes` (a `BoundedPull`). A read that stops making progress — no message for
 * `limits.stallMs` while some are pending, the connection closed, the consumer deleted, messages lost
 * in transit — rejects with a `StreamReadError` naming the stream, the sequence reached and the
 * cause. The consumer is deleted when the read ends either way (if the connection is gone, the
 * server removes it after `limits.inactiveThresholdMs`).
 */
export async function readStream(
  nc: NatsConnection,
  t: Topology,
  opts: { fromSeq: number; untilSeq: number; batchSize: number; limits?: Partial<ReadLimits> },
  onBatch: (batch: ProjectedMessage[], lastSeq: number) => Promise<void>,
): Promise<ReadResult> {
  let lastSeq = 0;
  let read = 0;
  let skipped = 0;
  if (opts.untilSeq < opts.fromSeq) return { lastSeq, read, skipped };
  const limits = { ...DEFAULT_READ_LIMITS, ...opts.limits };
  const pull = await BoundedPull.open(
    nc,
    {
      stream: t.streams.runs.name,
      filterSubject: t.consumers.projection.filterSubject,
      fromSeq: opts.fromSeq,
      untilSeq: opts.untilSeq,
    },
    {
      maxBytes: limits.maxPendingBytes,
      maxMessages: Math.max(opts.batchSize, 1000),
      stallMs: limits.stallMs,
      inactiveThresholdMs: limits.inactiveThresholdMs,
    },
  );
  // One batch is written while the next is read; a write failure stops the read.
  let writing: Promise<void> | undefined;
  let writeFailed = false;
  let writeError: unknown;
  const handOff = async (batch: ProjectedMessage[], seq: number): Promise<void> => {
    if (writing) await writing;
    if (writeFailed) throw writeError;
    writing = onBatch(batch, seq).catch((err: unknown) => {
      writeFailed = true;
      writeError = err;
      pull.abort(err);
    });
  };
  try {
    if (pull.initialPending === 0) return { lastSeq, read, skipped };
    let batch: ProjectedMessage[] = [];
    let batchBytes = 0;
    for (;;) {
      const m = await pull.next();
      read += 1;
      lastSeq = m.seq;
      try {
        batch.push(toProjected(m.seq, m.msg));
      } catch {
        skipped += 1;
      }
      batchBytes += m.size;
      const done = m.seq >= opts.untilSeq || m.pending === 0;
      if (done || batch.length >= opts.batchSize || batchBytes >= limits.batchBytes) {
        await handOff(batch, lastSeq);
        batch = [];
        batchBytes = 0;
      }
      if (done) break;
    }
    if (writing) await writing;
    if (writeFailed) throw writeError;
  } catch (err) {
    // Never return while onBatch still runs: the caller may close what it writes to.
    if (writing) await writing;
    throw writeFailed ? writeError : err;
  } finally {
    await pull.close();
  }
  return { lastSeq, read, skipped };
}
