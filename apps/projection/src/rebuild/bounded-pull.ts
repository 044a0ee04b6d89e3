import { AckPolicy, DeliverPolicy, jetstream, jetstreamManager, type JetStreamManager } from '@nats-io/jetstream';
import { createInbox, nanos, nuid, type Msg, type NatsConnection, type Subscription } from '@nats-io/nats-core';

/**
 * A byte-bounded, stall-detecting reader of one stream range, on the JetStream pull protocol.
 *
 * Why not `consume()`/`fetch()` of @nats-io/jetstream 3.4: without a byte bound the server pushes
 * whole windows of (up to 1 MB) events at a client that is busy writing, exceeds its per-client
 * `max_pending` (64 MB), cuts the connection as a slow consumer, and the ordered consumer then
 * waits forever for messages the server counts as delivered. With `max_bytes` the library forces
 * the message count to 100 and (measured on a 104 MB stream of mixed 300 B – 800 kB events)
 * `consume` livelocks on "409 Message Size Exceeds MaxBytes" (a request whose leftover byte budget
 * cannot fit the next large event, re-pulled with the same leftover every 45 s) and an ordered
 * `fetch` never ends when its 100 messages arrive before its bytes run out. Here every pull request
 * carries both a message count and a byte budget, one request is outstanding at a time, and a
 * request is sent only while the bytes requested plus those received but not yet taken stay
 * within `maxBytes` — so the server never holds more than that for this client.
 */

export const STREAM_READ_ERROR_CODES = {
  /** The read's consumer could not be created (no such stream, JetStream unavailable). */
  NOT_STARTED: 'STREAM_READ_NOT_STARTED',
  /** No message arrived for `stallMs` while the read waited for one. */
  STALLED: 'STREAM_READ_STALLED',
  CONNECTION_CLOSED: 'STREAM_READ_CONNECTION_CLOSED',
  /** The reader's consumer (or its stream) was deleted, or JetStream stopped answering. */
  CONSUMER_GONE: 'STREAM_READ_CONSUMER_GONE',
  /** Messages the server delivered never arrived (a broken connection): the read cannot be trusted. */
  MESSAGES_LOST: 'STREAM_READ_MESSAGES_LOST',
  /** The server refused the pull (bad request, a consumer limit, a message larger than `maxBytes`). */
  REFUSED: 'STREAM_READ_REFUSED',
} as const;
export type StreamReadErrorCode = (typeof STREAM_READ_ERROR_CODES)[keyof typeof STREAM_READ_ERROR_CODES];

/** A read of a stream range that cannot complete; the message names the stream, the sequence reached and why. */
export class StreamReadError extends Error {
  readonly code: StreamReadErrorCode;
  readonly stream: string;
  /** Last stream sequence received (0 if none). */
  readonly reachedSeq: number;
  /** Why, without the stream/sequence preamble. */
  readonly reason: string;
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
    this.reason = reason;
  }
}

export interface PullLimits {
  /** Bytes the server may have in flight to this reader plus bytes received and not yet taken by `next()`. */
  readonly maxBytes: number;
  /** Messages per pull request (the byte budget usually ends a request of large events first). */
  readonly maxMessages: number;
  /** Fail when `next()` has waited this long without a message. */
  readonly stallMs: number;
  /** The server deletes the consumer after this long without a pull request (a reader that died). */
  readonly inactiveThresholdMs: number;
  /** The server's idle heartbeat on a waiting pull request; a request silent for 2× this is re-sent. */
  readonly heartbeatMs?: number;
  readonly expiresMs?: number;
}

export interface PullRange {
  readonly stream: string;
  readonly filterSubject: string;
  readonly fromSeq: number;
  /** Only for error messages: the sequence the caller reads up to. */
  readonly untilSeq: number;
}

export interface PulledMessage {
  readonly seq: number;
  /** Messages left for the consumer after this one, as the server counted at delivery. */
  readonly pending: number;
  /** Bytes as the server counts them against a request's budget. */
  readonly size: number;
  readonly msg: Msg;
}

export interface Delivery {
  readonly streamSeq: number;
  readonly deliverySeq: number;
  readonly pending: number;
}

/**
 * Parses a JetStream ack subject, old (`$JS.ACK.<stream>.<consumer>.<delivered>.<sseq>.<dseq>.<ts>.<pending>`)
 * or new (`$JS.ACK.<domain>.<account>.<stream>.<consumer>.<delivered>.<sseq>.<dseq>.<ts>.<pending>.<token>`).
 */
export function parseDelivery(reply: string): Delivery | undefined {
  const t = reply.split('.');
  if (t[0] !== '$JS' || t[1] !== 'ACK') return undefined;
  const at = t.length === 9 ? 4 : t.length >= 11 ? 6 : -1;
  if (at < 0) return undefined;
  const streamSeq = Number(t[at + 1]);
  const deliverySeq = Number(t[at + 2]);
  const pending = Number(t[at + 4]);
  if (![streamSeq, deliverySeq, pending].every(Number.isSafeInteger)) return undefined;
  return { streamSeq, deliverySeq, pending };
}

/** The size the server charges against `max_bytes`: subject, ack subject, headers and payload. */
function chargedSize(m: Msg): number {
  const size = (m as Msg & { size?: () => number }).size?.();
  return typeof size === 'number' && size > 0 ? size : m.subject.length + (m.reply?.length ?? 0) + m.data.length;
}

interface OpenRequest {
  /** Its reply subject: the statuses that end it come on it. */
  readonly reply: string;
  readonly batch: number;
  readonly budget: number;
  got: number;
  bytesLeft: number;
  heardAt: number;
}

const CONSUMER_NOT_FOUND = 10014;
const STREAM_NOT_FOUND = 10059;

export class BoundedPull {
  private readonly queue: (PulledMessage | undefined)[] = [];
  private head = 0;
  private queuedBytes = 0;
  private request?: OpenRequest;
  /** After a request ended on a message too large for its budget: the next one waits for the whole window. */
  private wantFullWindow = false;
  private waiter?: { resolve: (m: PulledMessage) => void; reject: (e: unknown) => void; since: number };
  private failure?: Error;
  private closed = false;
  private diagnosing = false;
  private lastSeq = 0;
  private lastDelivery = 0;
  private received = 0;
  private lastPending?: number;
  /** The server's own count of what it delivered, from its heartbeats (diagnosis of lost messages). */
  private serverLastSeq?: number;
  private readonly notices: string[] = [];
  /** When the connection dropped, while it is down (the client reconnects on its own). */
  private disconnectedAt?: Date;
  private readonly sub: Subscription;
  private readonly inbox = createInbox();
  private requests = 0;
  private readonly timer: NodeJS.Timeout;
  private readonly statusLoop: { stop?: () => void };
  private readonly nextSubject: string;
  private readonly maxBytes: number;
  private readonly heartbeatMs: number;
  private readonly expiresMs: number;

  /** Creates the reader's consumer at `range.fromSeq` and returns a reader that has not pulled yet. */
  static async open(nc: NatsConnection, range: PullRange, limits: PullLimits): Promise<BoundedPull> {
    const name = `rf_read_${nuid.next()}`;
    let jsm: JetStreamManager;
    let pending: number;
    try {
      jsm = await jetstreamManager(nc);
      const info = await jsm.consumers.add(range.stream, {
        name,
        description: 'RunForge verify/rebuild read; deleted when the read ends',
        filter_subject: range.filterSubject,
        deliver_policy: DeliverPolicy.StartSequence,
        opt_start_seq: Math.max(1, range.fromSeq),
        ack_policy: AckPolicy.None,
        max_deliver: 1,
        mem_storage: true,
        num_replicas: 1,
        inactive_threshold: nanos(limits.inactiveThresholdMs),
      });
      pending = info.num_pending;
    } catch (err) {
      throw new StreamReadError(
        STREAM_READ_ERROR_CODES.NOT_STARTED,
        { stream: range.stream, reachedSeq: 0, fromSeq: range.fromSeq, untilSeq: range.untilSeq, received: 0 },
        `its consumer could not be created: ${err instanceof Error ? err.message : String(err)}`,
        { cause: err },
      );
    }
    return new BoundedPull(nc, jsm, range, limits, name, pending);
  }

  private constructor(
    private readonly nc: NatsConnection,
    private readonly jsm: JetStreamManager,
    private readonly range: PullRange,
    private readonly limits: PullLimits,
    readonly consumerName: string,
    /** Messages the consumer had to deliver when it was created. */
    readonly initialPending: number,
  ) {
    // A request must be able to carry the largest message the server accepts, or it never ends.
    const largest = (nc.info?.max_payload ?? 1024 * 1024) + 4096;
    this.maxBytes = Math.max(limits.maxBytes, largest);
    this.heartbeatMs = limits.heartbeatMs ?? 5000;
    this.expiresMs = limits.expiresMs ?? 30_000;
    this.nextSubject = `${jetstream(nc).apiPrefix}.CONSUMER.MSG.NEXT.${range.stream}.${consumerName}`;
    this.sub = nc.subscribe(`${this.inbox}.*`, {
      callback: (err, m) => (err ? this.failWith(err) : this.onMessage(m)),
    });
    const tick = Math.min(1000, Math.max(50, Math.floor(limits.stallMs / 4)));
    this.timer = setInterval(() => this.onTick(), tick);
    this.timer.unref();
    void nc.closed().then((err) => {
      if (this.closed) return;
      this.fail(
        STREAM_READ_ERROR_CODES.CONNECTION_CLOSED,
        `the NATS connection closed${err instanceof Error ? ` (${err.message})` : ''}`,
        err,
      );
    });
    const statuses = nc.status();
    this.statusLoop = statuses as { stop?: () => void };
    void (async () => {
      for await (const s of statuses) {
        if (s.type === 'disconnect') this.disconnectedAt ??= new Date();
        if (s.type === 'reconnect') this.disconnectedAt = undefined;
        if (s.type === 'disconnect' || s.type === 'reconnect' || s.type === 'staleConnection') {
          this.notice(`${s.type}${'server' in s ? ` ${s.server}` : ''}`);
        } else if (s.type === 'error') this.notice(`server error: ${s.error.message}`);
      }
    })().catch(() => undefined);
  }

  /** The next message in stream order; rejects with a `StreamReadError` (or the `abort` reason). */
  next(): Promise<PulledMessage> {
    if (this.failure) return Promise.reject(this.failure);
    const m = this.queue[this.head];
    if (m) {
      this.queue[this.head] = undefined;
      this.head += 1;
      if (this.head === this.queue.length) {
        this.queue.length = 0;
        this.head = 0;
      }
      this.queuedBytes -= m.size;
      this.maybePull();
      return Promise.resolve(m);
    }
    return new Promise((resolve, reject) => {
      this.waiter = { resolve, reject, since: Date.now() };
      this.maybePull();
    });
  }

  /** Stops the read with `reason` (e.g. the writer failed): a waiting `next()` rejects with it. */
  abort(reason: unknown): void {
    this.failWith(reason);
  }

  /**
   * Ends the read and deletes the consumer. If the connection is gone the consumer stays until the
   * server's inactivity threshold removes it. Returns whether it was deleted.
   */
  async close(): Promise<boolean> {
    if (this.closed) return false;
    this.closed = true;
    this.failure ??= new Error('read closed');
    clearInterval(this.timer);
    this.statusLoop.stop?.();
    this.queue.length = 0;
    this.queuedBytes = 0;
    if (this.nc.isClosed()) return false;
    this.sub.unsubscribe();
    return this.jsm.consumers.delete(this.range.stream, this.consumerName).catch(() => false);
  }

  private onMessage(m: Msg): void {
    if (this.failure) return;
    const delivery = m.reply ? parseDelivery(m.reply) : undefined;
    if (!delivery) {
      this.onStatus(m);
      return;
    }
    if (delivery.deliverySeq !== this.lastDelivery + 1) {
      this.fail(
        STREAM_READ_ERROR_CODES.MESSAGES_LOST,
        `deliveries ${this.lastDelivery + 1}..${delivery.deliverySeq - 1} never arrived (the next one received is ` +
          `sequence ${delivery.streamSeq}): the connection was interrupted or the server cut this client off as a ` +
          `slow consumer (its max_pending is below the read window of ${this.maxBytes} bytes?)${this.recentNotices()}`,
      );
      return;
    }
    this.lastDelivery = delivery.deliverySeq;
    this.lastSeq = delivery.streamSeq;
    this.lastPending = delivery.pending;
    this.received += 1;
    const pulled: PulledMessage = { seq: delivery.streamSeq, pending: delivery.pending, size: chargedSize(m), msg: m };
    // A delivery carries the stream subject, not the request's reply subject: it is charged to the
    // request open now (one given up as silent can only have ended, or deliver what this one would).
    const r = this.request;
    if (r) {
      r.got += 1;
      r.bytesLeft -= pulled.size;
      r.heardAt = Date.now();
      // The server ends a request silently once its count or its bytes are used up.
      if (r.got >= r.batch || r.bytesLeft <= 0) this.request = undefined;
    }
    const w = this.waiter;
    if (w) {
      this.waiter = undefined;
      w.resolve(pulled);
    } else {
      this.queue.push(pulled);
      this.queuedBytes += pulled.size;
    }
    this.maybePull();
  }

  private onStatus(m: Msg): void {
    const code = m.headers?.code ?? 0;
    const description = m.headers?.description ?? '';
    // Statuses come on the reply subject of the request they end; one given up earlier says nothing
    // about the request open now.
    const current = this.request !== undefined && m.subject === this.request.reply;
    const consumerLevel = code === 503 || (code === 409 && /consumer deleted/i.test(description));
    if (!current && !consumerLevel) return;
    const r = this.request;
    switch (code) {
      case 100: {
        // Idle heartbeat of a waiting request; it says how far the server got.
        if (r) r.heardAt = Date.now();
        const last = Number(m.headers?.get('Nats-Last-Stream'));
        if (Number.isSafeInteger(last) && last > 0) this.serverLastSeq = last;
        return;
      }
      case 404:
      case 408:
        this.request = undefined;
        this.maybePull();
        return;
      case 409: {
        const d = description.toLowerCase();
        if (d.includes('message size exceeds maxbytes')) {
          this.request = undefined;
          if (r && r.got === 0 && r.budget >= this.maxBytes) {
            this.fail(
              STREAM_READ_ERROR_CODES.REFUSED,
              `the message after sequence ${this.lastSeq} is larger than the read window of ${this.maxBytes} bytes ` +
                `(raise STREAM_READ_MAX_BYTES)`,
            );
            return;
          }
          this.wantFullWindow = true;
          this.maybePull();
        } else if (d.includes('consumer deleted')) {
          this.fail(
            STREAM_READ_ERROR_CODES.CONSUMER_GONE,
            `the consumer ${this.consumerName} was deleted (409 ${description})`,
          );
        } else if (d.startsWith('exceeded max')) {
          this.fail(STREAM_READ_ERROR_CODES.REFUSED, `the server refused the pull request: 409 ${description}`);
        } else {
          // Leadership change, server shutdown, batch completed: the request is over, ask again.
          this.notice(`409 ${description}`);
          this.request = undefined;
          this.maybePull();
        }
        return;
      }
      case 503:
        this.fail(
          STREAM_READ_ERROR_CODES.CONSUMER_GONE,
          `no responders for the pull request: the consumer ${this.consumerName} (or its stream) is gone, or JetStream is unavailable`,
        );
        return;
      default:
        this.fail(
          STREAM_READ_ERROR_CODES.REFUSED,
          `the server answered the pull request with ${code} ${description}`.trim(),
        );
    }
  }

  private maybePull(): void {
    if (this.failure || this.request) return;
    const room = this.maxBytes - this.queuedBytes;
    // Small requests are wasteful: wait until a quarter of the window is free (or all of it, after a
    // request ended on a message larger than its budget, so that the next one surely fits).
    if (this.wantFullWindow ? this.queuedBytes > 0 : room < this.maxBytes / 4) return;
    this.wantFullWindow = false;
    const batch = this.limits.maxMessages;
    this.requests += 1;
    const reply = `${this.inbox}.${this.requests}`;
    this.request = { reply, batch, budget: room, got: 0, bytesLeft: room, heardAt: Date.now() };
    try {
      this.nc.publish(
        this.nextSubject,
        JSON.stringify({
          batch,
          max_bytes: room,
          expires: nanos(this.expiresMs),
          idle_heartbeat: nanos(this.heartbeatMs),
        }),
        { reply },
      );
    } catch (err) {
      this.failWith(err);
    }
  }

  private onTick(): void {
    if (this.failure) return;
    const now = Date.now();
    const r = this.request;
    if (r && now - r.heardAt > 2 * this.heartbeatMs + 1000) {
      // Neither a message nor a heartbeat: the request is gone (a reconnect, or it ended on a byte
      // count we charged differently). Ask again; a lost message still shows as a delivery gap.
      this.notice('pull request went silent; re-sent');
      this.request = undefined;
      this.maybePull();
    }
    const w = this.waiter;
    if (w && now - w.since > this.limits.stallMs && !this.diagnosing) {
      this.diagnosing = true;
      void this.diagnoseStall(w, now - w.since);
    }
  }

  /** Fails a stalled read with what the server says about the consumer. */
  private async diagnoseStall(stalled: BoundedPull['waiter'], waitedMs: number): Promise<void> {
    const pending = this.lastPending ?? this.initialPending;
    const parts = [`no message for ${(waitedMs / 1000).toFixed(1)} s with ${pending} pending`];
    let code: StreamReadErrorCode = STREAM_READ_ERROR_CODES.STALLED;
    if (this.nc.isClosed()) {
      code = STREAM_READ_ERROR_CODES.CONNECTION_CLOSED;
      parts.push('the NATS connection is closed');
    } else if (this.disconnectedAt) {
      parts.push(
        `NATS has been unreachable since ${this.disconnectedAt.toISOString()} (the client keeps reconnecting)`,
      );
    } else {
      try {
        const ci = await Promise.race([
          this.jsm.consumers.info(this.range.stream, this.consumerName),
          new Promise<never>((_, reject) => setTimeout(() => reject(new Error('no answer within 2 s')), 2000).unref()),
        ]);
        parts.push(
          `the server says consumer ${this.consumerName} delivered up to sequence ${ci.delivered.stream_seq} ` +
            `with ${ci.num_pending} pending and ${ci.num_waiting} pull request(s) waiting`,
        );
        if (ci.delivered.stream_seq > this.lastSeq) parts.push('messages it delivered never arrived');
      } catch (err) {
        const apiCode = (err as { code?: number }).code;
        if (apiCode === CONSUMER_NOT_FOUND || apiCode === STREAM_NOT_FOUND || /not found/i.test(String(err))) {
          code = STREAM_READ_ERROR_CODES.CONSUMER_GONE;
          parts.push(`the consumer ${this.consumerName} no longer exists on the server`);
        } else {
          parts.push(
            `asking the server about consumer ${this.consumerName} failed: ${err instanceof Error ? err.message : String(err)}`,
          );
        }
      }
    }
    this.diagnosing = false;
    // A message that arrived while the server was asked means the read moves again.
    if (this.waiter !== stalled) return;
    if (this.serverLastSeq !== undefined && this.serverLastSeq > this.lastSeq) {
      parts.push(`its last heartbeat reported sequence ${this.serverLastSeq} delivered`);
    }
    this.fail(code, `${parts.join('; ')}${this.recentNotices()}`);
  }

  private fail(code: StreamReadErrorCode, reason: string, cause?: unknown): void {
    this.failWith(
      new StreamReadError(
        code,
        {
          stream: this.range.stream,
          reachedSeq: this.lastSeq,
          fromSeq: this.range.fromSeq,
          untilSeq: this.range.untilSeq,
          received: this.received,
        },
        reason,
        cause === undefined ? undefined : { cause },
      ),
    );
  }

  private failWith(err: unknown): void {
    if (this.failure) return;
    this.failure = err instanceof Error ? err : new Error(String(err));
    this.request = undefined;
    const w = this.waiter;
    this.waiter = undefined;
    w?.reject(this.failure);
  }

  private notice(what: string): void {
    this.notices.push(`${new Date().toISOString().slice(11, 23)} ${what}`);
    if (this.notices.length > 5) this.notices.shift();
  }

  private recentNotices(): string {
    return this.notices.length > 0 ? ` [NATS: ${this.notices.join(', ')}]` : '';
  }
}
