import type { Logger } from '@nestjs/common';
import {
  AckPolicy,
  DeliverPolicy,
  jetstream,
  jetstreamManager,
  type ConsumerMessages,
  type JsMsg,
} from '@nats-io/jetstream';
import { nanos, type MsgHdrs, type NatsConnection } from '@nats-io/nats-core';
import type { Topology } from '@runforge/contracts';
import type { BatchBinding, ConsumerName } from './bindings';
import { decoderFor } from './decoders';
import { JetStreamBatchContext, type BatchMessage } from './jetstream.context';
import { causeOf, invoke, sleep, type Handler, type Runner } from './runner';

/**
 * How long a pull request of the batch consumer lives (its idle heartbeats come every half of it, and
 * two missed ones make the client pull again). The client's default, 30 s, left the projection idle
 * for up to ≈ 30 s when a cluster node holding the consumer's leader was killed: the pull request
 * died with it and nothing said so until two heartbeats were missed.
 */
const PULL_EXPIRES_MS = 5_000;

/**
 * One message of a batch. Its headers are decoded only when a handler asks for them: a projection
 * batch is mostly trial outcomes, whose headers it never reads.
 */
class DeliveredMessage<T> implements BatchMessage<T> {
  readonly seq: number;
  readonly subject: string;
  readonly storedAtMs: number;
  readonly redelivered: boolean;

  constructor(
    private readonly msg: JsMsg,
    readonly data: T | undefined,
    readonly error?: unknown,
  ) {
    this.seq = msg.seq;
    this.subject = msg.subject;
    this.storedAtMs = msg.info.timestampNanos / 1e6;
    this.redelivered = msg.info.redelivered;
  }

  get headers(): MsgHdrs | undefined {
    return this.msg.headers;
  }
}

/** The gates a batch binding waits on (the transport keeps them). */
export interface Gates {
  isGateOpen(name: string): boolean;
  whenGateOpen(name: string): Promise<void>;
}

/**
 * Consumes a durable consumer in stream order from the app's checkpoint, in batches closed by size or
 * time (never by the server's pending estimate, which NATS 2.9 gets wrong for a filtered consumer that
 * starts mid-stream); a failed batch or a gap in deliveries restarts from the checkpoint.
 */
export class BatchRunner implements Runner {
  private stopping = false;
  private loop?: Promise<void>;
  private messages?: ConsumerMessages;
  private readonly decode: (raw: Uint8Array) => unknown;

  constructor(
    private readonly pattern: string,
    private readonly binding: BatchBinding,
    private readonly handler: Handler,
    private readonly nc: NatsConnection,
    private readonly t: Topology,
    private readonly log: Logger,
    private readonly startSequence: (consumer: ConsumerName) => Promise<number>,
    private readonly server: Gates,
  ) {
    this.decode = decoderFor(pattern);
  }

  private isUrgent(m: JsMsg): boolean {
    return this.binding.urgent?.(m.subject) ?? false;
  }

  get gateName(): string | undefined {
    return this.binding.gate;
  }

  start(): void {
    this.loop = this.run();
  }

  /** Stops after the batch in hand (the gate's owner calls it when it loses the gate). */
  interrupt(): void {
    this.messages?.stop();
  }

  async drain(): Promise<void> {
    this.stopping = true;
    this.messages?.stop();
    await this.loop?.catch(() => undefined);
  }

  private async run(): Promise<void> {
    const gate = this.binding.gate;
    while (!this.stopping) {
      if (gate && !this.server.isGateOpen(gate)) {
        await Promise.race([this.server.whenGateOpen(gate), sleep(500)]);
        continue;
      }
      try {
        await this.consumeFromCheckpoint(gate);
      } catch (err) {
        if (this.stopping) break;
        this.log.error({ err }, `${this.pattern}: consuming failed; restarting from the checkpoint`);
        await sleep(1000);
      }
    }
  }

  private async consumeFromCheckpoint(gate: string | undefined): Promise<void> {
    const spec = this.t.consumers[this.binding.consumer];
    const after = await this.startSequence(this.binding.consumer);
    const jsm = await jetstreamManager(this.nc);
    await jsm.consumers.delete(spec.stream, spec.durable).catch(() => undefined);
    await jsm.consumers.add(spec.stream, {
      durable_name: spec.durable,
      filter_subject: spec.filterSubject,
      // One ack a batch: acking its highest stream sequence acks everything below it, which the
      // checkpoint has covered (a message per event otherwise costs NATS and the app an ack each).
      ack_policy: AckPolicy.All,
      deliver_policy: DeliverPolicy.StartSequence,
      opt_start_seq: after + 1,
      ack_wait: nanos(this.binding.ackWaitSeconds * 1000),
      max_ack_pending: this.binding.maxAckPending,
    });
    const consumer = await jetstream(this.nc).consumers.get(spec.stream, spec.durable);
    // Messages come to a callback, not an async iterator: a busy stream delivers one message per trial
    // outcome, and iterating cost each of them a promise and a trip through the microtask queue.
    let ended = false;
    /**
     * Stops consuming: what was delivered and not yet buffered is dropped (the restart reads it again).
     * Called before `consume` resolved, it stops the messages as soon as they are there.
     */
    const end = (): void => {
      ended = true;
      this.messages?.stop();
    };
    const buffer: JsMsg[] = [];
    let timer: NodeJS.Timeout | undefined;
    // A batch holding an urgent message closes `lingerMs` after it arrived; one of routine messages
    // only no sooner than `minIntervalMs` after the previous batch began.
    let lastFlushAt = Number.NEGATIVE_INFINITY;
    let timerUrgent = false;
    let chain: Promise<void> = Promise.resolve();
    let failure: unknown;
    // One batch in flight at a time: what arrives meanwhile waits in the buffer and goes as the next
    // batch when it ends (so a busy handler gets bigger batches, not a queue of small ones).
    let applying = false;
    let flushWhenDone = false;
    /** Set when the loop ends on a failure or a closed gate: nothing more is applied. */
    let abandoning = false;
    const flush = (): Promise<void> => {
      clearTimeout(timer);
      timer = undefined;
      if (buffer.length === 0) return chain;
      if (applying) {
        flushWhenDone = true;
        return chain;
      }
      const msgs = buffer.splice(0, this.binding.maxMessages);
      applying = true;
      lastFlushAt = performance.now();
      chain = chain
        .then(async () => {
          if (failure !== undefined) return;
          const batch: BatchMessage<unknown>[] = msgs.map((m) => {
            try {
              return new DeliveredMessage(m, this.decode(m.data));
            } catch (error) {
              return new DeliveredMessage(m, undefined, error);
            }
          });
          await invoke(this.handler, batch, new JetStreamBatchContext(batch, after));
          const highest = msgs.reduce((a, b) => (b.seq > a.seq ? b : a));
          highest.ack();
        })
        .catch((err: unknown) => {
          failure ??= err instanceof Error ? err : new Error(`${this.pattern} batch failed: ${causeOf(err)}`);
          end();
        })
        .finally(() => {
          applying = false;
          if (failure !== undefined || abandoning) return;
          if (flushWhenDone || buffer.length >= this.binding.maxMessages) {
            flushWhenDone = false;
            void flush();
          } else if (buffer.length > 0) {
            // What arrived during the batch, when nothing more may come: it goes by the usual rule.
            arm(buffer.some((m) => this.isUrgent(m)));
          }
        });
      return chain;
    };
    /** Closes the buffered batch `lingerMs` from now if urgent, else no sooner than `minIntervalMs` after the last one began. */
    const arm = (urgent: boolean): void => {
      if (timer && (timerUrgent || !urgent)) return;
      clearTimeout(timer);
      const wait = urgent
        ? this.binding.lingerMs
        : Math.max(this.binding.lingerMs, lastFlushAt + (this.binding.minIntervalMs ?? 0) - performance.now());
      timerUrgent = urgent;
      timer = setTimeout(() => void flush(), wait);
    };
    // Deliveries are numbered per consumer, redeliveries included: a gap means some never arrived
    // (a reconnect), and the stream order can only be kept by starting again from the checkpoint.
    let lastDelivery = 0;
    const onMessage = (m: JsMsg): void => {
      if (ended) return;
      if (m.info.deliverySequence !== lastDelivery + 1) {
        failure ??= new Error(
          `deliveries ${lastDelivery + 1}..${m.info.deliverySequence - 1} never arrived; restarting from the checkpoint`,
        );
        end();
        return;
      }
      lastDelivery = m.info.deliverySequence;
      buffer.push(m);
      // A full buffer goes at once, or as soon as the batch in flight ends (`flush` waits for it).
      if (buffer.length >= this.binding.maxMessages) void flush();
      else arm(this.isUrgent(m));
      if (gate && !this.server.isGateOpen(gate)) end();
    };
    const messages = await consumer.consume({
      max_messages: this.binding.maxMessages,
      expires: PULL_EXPIRES_MS,
      callback: onMessage,
    });
    this.messages = messages;
    if (ended) messages.stop();
    // Ends when stopped: by `end`, by `interrupt` or `drain`, or by the client on a terminal error.
    const closedBy = await messages.closed();
    if (closedBy instanceof Error && !ended && !this.stopping) failure ??= closedBy;
    clearTimeout(timer);
    // After a failure (or a closed gate) what is buffered is not applied nor acked: the restart reads it again.
    if (failure === undefined && !(gate && !this.server.isGateOpen(gate))) {
      // Everything buffered is applied, batch after batch, before consuming restarts.
      for (;;) {
        await flush();
        await chain;
        if (failure !== undefined || (!applying && buffer.length === 0)) break;
      }
    } else abandoning = true;
    while (applying) await chain;
    if (failure !== undefined) throw failure instanceof Error ? failure : new Error(causeOf(failure));
  }
}
