import { AckPolicy, DeliverPolicy, jetstream, jetstreamManager, type Consumer, type JsMsg } from '@nats-io/jetstream';
import { nanos, nuid, type NatsConnection } from '@nats-io/nats-core';
import { decodeEvent, HEADERS, type RunEvent, type Topology } from '@runforge/contracts';

export interface StoredRunEvent {
  readonly seq: number;
  /** Time the stream stored the message. */
  readonly storedAt: string;
  readonly subject: string;
  readonly event: RunEvent;
  readonly traceparent?: string;
}

/**
 * Bytes a fetch from `RUNS` may bring at most: half the server's default per-client `max_pending`
 * (64 MB), past which NATS cuts a client off as a slow consumer (optimization events weigh up to
 * ~1 MB each; see docs/adr/0002-bounded-stream-reads.md).
 */
export const FETCH_WINDOW_BYTES = 32 * 1024 * 1024;

/**
 * Events per fetch so that `windowBytes` is never exceeded, were each event as large as the server
 * allows (`max_payload`): nats.js cannot bound a fetch by messages and bytes together. At least 1, at
 * most 1,000.
 */
export function boundedFetchSize(windowBytes: number, maxPayload: number | undefined): number {
  return Math.max(1, Math.min(1000, Math.floor(windowBytes / Math.max(1, maxPayload ?? 1024 * 1024))));
}

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
   * Bytes a pull may ask NATS for: a fetch asks for `maxPendingBytes / max_payload` events (at
   * least 1, at most 1,000), so however large the events, the server never holds more than this
   * for the reader — well below its per-client `max_pending` (64 MB by default), past which it cuts
   * a client off as a slow consumer.
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
  maxPendingBytes: FETCH_WINDOW_BYTES,
  batchBytes: 8 * 1024 * 1024,
  stallMs: 30_000,
  inactiveThresholdMs: 60_000,
};

/**
 * The server ends a fetch by its `expires`; one it never answers (its consumer deleted, on NATS 2.9;
 * a connection lost meanwhile) is stopped this long after that.
 */
const FETCH_GRACE_MS = 2000;

export const STREAM_READ_ERROR_CODES = {
  /** The read's consumer could not be created (no such stream, JetStream unavailable). */
  NOT_STARTED: 'STREAM_READ_NOT_STARTED',
  /** No message arrived for `stallMs` while the read still waited for some. */
  STALLED: 'STREAM_READ_STALLED',
  CONNECTION_CLOSED: 'STREAM_READ_CONNECTION_CLOSED',
  /** Messages the server delivered never arrived (a broken connection): the read cannot be trusted. */
  MESSAGES_LOST: 'STREAM_READ_MESSAGES_LOST',
} as const;
export type StreamReadErrorCode = (typeof STREAM_READ_ERROR_CODES)[keyof typeof STREAM_READ_ERROR_CODES];

/** A read of a stream range that cannot complete; the message names the stream, the sequence reached and why. */
export class StreamReadError extends Error {
  readonly code: StreamReadErrorCode;
  readonly stream: string;
  /** Last stream sequence received (0 if none). */
  readonly reachedSeq: number;
  /** Reads are idempotent: every failure here is worth a retry once the cause is gone. */
  readonly retryable = true;

  constructor(
    code: StreamReadErrorCode,
    at: { stream: string; reachedSeq: number; fromSeq: number; untilSeq: number; received: number },
    reason: string,
    options?: { cause?: unknown },
  ) {
    super(
      `reading stream ${at.stream} (sequences ${at.fromSeq}..${at.untilSeq}) stopped at sequence ${at.reachedSeq} ` +
        `after ${at.received} message(s): ${reason}`,
      options,
    );
    this.name = 'StreamReadError';
    this.code = code;
    this.stream = at.stream;
    this.reachedSeq = at.reachedSeq;
  }
}

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

function toStored(m: JsMsg): StoredRunEvent {
  return {
    seq: m.seq,
    storedAt: new Date(m.info.timestampNanos / 1e6).toISOString(),
    subject: m.subject,
    event: decodeEvent(m.json()),
    traceparent: m.headers?.get(HEADERS.traceparent) || undefined,
  };
}

/** Whether `seq` is the stream's last sequence now (the server's pending count alone is not trusted). */
async function reachedStreamEnd(nc: NatsConnection, stream: string, seq: number): Promise<boolean> {
  const info = await (await jetstreamManager(nc)).streams.info(stream);
  return seq >= info.state.last_seq;
}

const causeOf = (err: unknown): string => (err instanceof Error ? err.message : String(err));

/**
 * The one reader of `RUNS` in order (the operator commands' whole-stream reads, and every run's history
 * through `StreamReader`): from `fromSeq` up to `untilSeq` (inclusive) of the subjects `filterSubject`
 * (default `runs.>`), with a consumer of its own (no durable state, no acks), handing decoded batches
 * to `onBatch` one at a time. Without `untilSeq` the read ends once it has read what the consumer held
 * when it was created (a history read from its first sequence, where that count is exact); with it,
 * only at `untilSeq` or the stream's end — never on a pending estimate alone.
 *
 * Bounded on both sides: one fetch of `boundedFetchSize` events is in flight while `onBatch` writes the
 * previous batch, so NATS never holds more than `limits.maxPendingBytes` for this reader and the
 * reader never more than a batch and a fetch. (Unbounded, a stream of ~1 MB optimization events
 * once made the server cut the reader off as a slow consumer, and the read then waited forever.)
 * A read that stops making progress — no message for `limits.stallMs` while the read is not done,
 * the connection closed, NATS refusing the pull — rejects with a `StreamReadError` naming the
 * stream, the sequence reached and the cause. The consumer is deleted when the read ends (if the
 * connection is gone, the server removes it after `limits.inactiveThresholdMs`).
 */
export async function readStream(
  nc: NatsConnection,
  t: Topology,
  opts: {
    fromSeq: number;
    untilSeq?: number;
    filterSubject?: string;
    batchSize: number;
    limits?: Partial<ReadLimits>;
  },
  onBatch: (batch: StoredRunEvent[], lastSeq: number) => Promise<void> | void,
): Promise<ReadResult> {
  let lastSeq = 0;
  let read = 0;
  let skipped = 0;
  const untilSeq = opts.untilSeq ?? Number.MAX_SAFE_INTEGER;
  if (untilSeq < opts.fromSeq) return { lastSeq, read, skipped };
  const limits = { ...DEFAULT_READ_LIMITS, ...opts.limits };
  const stream = t.streams.runs.name;
  const fail = (code: StreamReadErrorCode, reason: string, cause?: unknown): StreamReadError =>
    new StreamReadError(
      code,
      { stream, reachedSeq: lastSeq, fromSeq: opts.fromSeq, untilSeq, received: read },
      reason,
      cause === undefined ? undefined : { cause },
    );

  // A consumer of its own, without acks, removed by the server once idle (a reader that died). Stored
  // like the stream, so it outlives a NATS restart and the read carries on. Not an ordered consumer:
  // re-creating itself after a restart, that one delivered one event per fetch (nats.js 3.4, NATS 2.9).
  const name = `rf_read_${nuid.next()}`;
  let consumer: Consumer;
  /** What the consumer held when created: the whole read when it has no `untilSeq`. */
  let expected = Number.MAX_SAFE_INTEGER;
  try {
    const info = await (
      await jetstreamManager(nc)
    ).consumers.add(stream, {
      name,
      filter_subject: opts.filterSubject ?? t.consumers.projection.filterSubject,
      ack_policy: AckPolicy.None,
      deliver_policy: DeliverPolicy.StartSequence,
      opt_start_seq: opts.fromSeq,
      inactive_threshold: nanos(limits.inactiveThresholdMs),
    });
    consumer = await jetstream(nc).consumers.get(stream, name);
    if (info.num_pending === 0) {
      await consumer.delete().catch(() => undefined);
      return { lastSeq, read, skipped };
    }
    if (opts.untilSeq === undefined) expected = info.num_pending;
  } catch (err) {
    throw fail(STREAM_READ_ERROR_CODES.NOT_STARTED, `its consumer could not be created: ${causeOf(err)}`, err);
  }

  const size = boundedFetchSize(limits.maxPendingBytes, nc.info?.max_payload);
  // A fetch waits at most this long for its first event; an empty one is retried until the stall bound.
  const expires = Math.max(1000, Math.min(5000, limits.stallMs));
  let pullError: unknown;
  /** One fetch: what arrived, even if NATS then refused or dropped it (the error is kept for the stall report). */
  const fetchNext = async (): Promise<JsMsg[]> => {
    const out: JsMsg[] = [];
    try {
      const messages = await consumer.fetch({ max_messages: size, expires });
      const watchdog = setTimeout(
        () => messages.stop(new Error(`NATS did not answer a pull within ${(expires + FETCH_GRACE_MS) / 1000} s`)),
        expires + FETCH_GRACE_MS,
      );
      try {
        for await (const m of messages) {
          out.push(m);
          if (m.seq >= untilSeq || out.length + read >= expected) break;
        }
      } finally {
        clearTimeout(watchdog);
      }
    } catch (err) {
      pullError = err;
    }
    return out;
  };
  /** Why the read stalled, as the server sees its consumer. */
  const stallReport = async (silentMs: number): Promise<string> => {
    const seen = await consumer.info().then(
      (i) => `${i.num_pending} pending`,
      (err: unknown) =>
        causeOf(err) === 'consumer not found'
          ? 'its consumer no longer exists on the server (deleted, or removed when a write took longer than its inactivity limit)'
          : `NATS did not answer a lookup of its consumer either (${causeOf(err)}): is it running and reachable?`,
    );
    const last = pullError === undefined ? '' : ` (last pull: ${causeOf(pullError)})`;
    return `no message for ${(silentMs / 1000).toFixed(1)} s${last}; ${seen}`;
  };

  // One batch is written while the next fetch is in flight; a write failure stops the read.
  let writing: Promise<void> | undefined;
  const handOff = async (batch: StoredRunEvent[], seq: number): Promise<void> => {
    await writing;
    writing = Promise.resolve(onBatch(batch, seq));
    // Surfaced by the next hand-off or the final await; never an unhandled rejection meanwhile.
    writing.catch(() => undefined);
  };
  try {
    let lastMessageAt = performance.now();
    let batch: StoredRunEvent[] = [];
    let batchBytes = 0;
    let done = false;
    let next = fetchNext();
    while (!done) {
      const msgs = await next;
      if (nc.isClosed()) throw fail(STREAM_READ_ERROR_CODES.CONNECTION_CLOSED, 'the NATS connection closed', pullError);
      const last = msgs[msgs.length - 1];
      if (last) {
        lastMessageAt = performance.now();
        pullError = undefined;
        done =
          last.seq >= untilSeq ||
          read + msgs.length >= expected ||
          (opts.untilSeq !== undefined && last.info.pending === 0 && (await reachedStreamEnd(nc, stream, last.seq)));
      } else {
        // Nothing came (the fetch expired, or NATS refused or dropped it): try again, up to the stall
        // bound, so a NATS restart of a few seconds does not end a long rebuild.
        const silentMs = performance.now() - lastMessageAt;
        if (silentMs >= limits.stallMs)
          throw fail(STREAM_READ_ERROR_CODES.STALLED, await stallReport(silentMs), pullError);
      }
      if (!done) next = fetchNext();
      for (const m of msgs) {
        // Each delivery is numbered: a gap means the server sent events this reader never got.
        if (m.info.deliverySequence !== read + 1) {
          throw fail(
            STREAM_READ_ERROR_CODES.MESSAGES_LOST,
            `deliveries ${read + 1}..${m.info.deliverySequence - 1} never arrived (the connection dropped mid-pull?)`,
          );
        }
        read += 1;
        lastSeq = m.seq;
        try {
          batch.push(toStored(m));
        } catch {
          skipped += 1;
        }
        batchBytes += m.data.length;
        if (batch.length >= opts.batchSize || batchBytes >= limits.batchBytes) {
          await handOff(batch, lastSeq);
          batch = [];
          batchBytes = 0;
        }
      }
    }
    if (batch.length > 0) await handOff(batch, lastSeq);
    await writing;
  } finally {
    // Never return while onBatch still runs: the caller may close what it writes to.
    await writing?.catch(() => undefined);
    await consumer.delete().catch(() => undefined);
  }
  return { lastSeq, read, skipped };
}
