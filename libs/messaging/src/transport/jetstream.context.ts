import { BaseRpcContext } from '@nestjs/microservices';
import type { JsMsg } from '@nats-io/jetstream';
import type { Msg, MsgHdrs } from '@nats-io/nats-core';
import { HEADERS } from '@runforge/contracts';

/** How a delivery ended, once it has. */
export type Settlement = 'ack' | 'nak' | 'term';

/**
 * What a handler gets beside the decoded payload: the JetStream delivery it came from. Settling is
 * idempotent (the first call wins); the transport renews the lease (`working()`) while the delivery
 * is unsettled, so a handler only calls `working()` to renew more often than that.
 */
export class JetStreamContext extends BaseRpcContext<[JsMsg]> {
  private settledAs: Settlement | undefined;
  private readonly settledWaiters: (() => void)[] = [];

  constructor(
    readonly msg: JsMsg,
    /** Set when the message arrived after the transport began draining (SIGTERM). */
    readonly draining: boolean,
    private readonly hooks: { pullAhead(): void; onSettled(ctx: JetStreamContext): void },
  ) {
    super([msg]);
  }

  get subject(): string {
    return this.msg.subject;
  }
  get headers(): MsgHdrs | undefined {
    return this.msg.headers;
  }
  /** W3C trace context of the message, if it carries one. */
  get traceparent(): string | undefined {
    return this.msg.headers?.get(HEADERS.traceparent) || undefined;
  }
  /** 1 for the first delivery; a run dispatch's delivery count is the run's attempt number. */
  get deliveryCount(): number {
    return this.msg.info.deliveryCount;
  }
  get redelivered(): boolean {
    return this.msg.info.redelivered;
  }
  get streamSequence(): number {
    return this.msg.seq;
  }
  get consumer(): string {
    return this.msg.info.consumer;
  }
  get settled(): Settlement | undefined {
    return this.settledAs;
  }

  /** Resolves once the delivery is settled (acked, nak'd or terminated). */
  whenSettled(): Promise<void> {
    if (this.settledAs) return Promise.resolve();
    return new Promise((resolve) => this.settledWaiters.push(resolve));
  }

  working(): void {
    if (!this.settledAs) this.msg.working();
  }

  ack(): void {
    if (this.settle('ack')) this.msg.ack();
  }

  /** Acks and waits for the server to confirm it (a run's end must not be redelivered). */
  async ackAck(): Promise<void> {
    if (this.settle('ack')) await this.msg.ackAck();
  }

  /** Hands the message back, to be redelivered after `delayMs` (at once without). */
  nak(delayMs?: number): void {
    if (this.settle('nak')) this.msg.nak(delayMs);
  }

  /**
   * Never redelivered (it can never be processed). The reason is the caller's to log: the server is
   * not told it, because NATS 2.9 ignores a TERM that carries one (the message was then redelivered
   * until its delivery limit).
   */
  term(reason?: string): void {
    if (this.settle('term')) {
      this.termReason = reason;
      this.msg.term();
    }
  }

  /** Why the delivery was terminated, if it was. */
  termReason: string | undefined;

  /**
   * Lets the transport pull the next message now, ahead of this one's end; it is handed to the
   * handler once this one resolves (its lease renewed meanwhile). For a handler that knows it is
   * nearly done, so the next message's round trip overlaps its last piece of work.
   */
  pullAhead(): void {
    this.hooks.pullAhead();
  }

  private settle(as: Settlement): boolean {
    if (this.settledAs) return false;
    this.settledAs = as;
    this.hooks.onSettled(this);
    for (const w of this.settledWaiters.splice(0)) w();
    return true;
  }
}

/** One message of a batch: its stream sequence, and the decoded payload or why it could not be. */
export interface BatchMessage<T> {
  readonly seq: number;
  readonly subject: string;
  readonly headers: MsgHdrs | undefined;
  /** When the stream stored it (ms since the epoch). */
  readonly storedAtMs: number;
  readonly redelivered: boolean;
  readonly data: T | undefined;
  readonly error?: unknown;
}

/** A batch of a `batch` binding, in delivery order; the transport acks it when the handler resolves. */
export class JetStreamBatchContext<T = unknown> extends BaseRpcContext<[BatchMessage<T>[]]> {
  constructor(
    readonly messages: readonly BatchMessage<T>[],
    /** The sequence the consumer started after (the app's checkpoint when it started). */
    readonly startedAfter: number,
  ) {
    super([[...messages]]);
  }
}

/** A core NATS message (a push): subject, headers and body; nothing to settle. */
export class CoreMessageContext extends BaseRpcContext<[Msg]> {
  constructor(readonly msg: Msg) {
    super([msg]);
  }
  get subject(): string {
    return this.msg.subject;
  }
  get headers(): MsgHdrs | undefined {
    return this.msg.headers;
  }
}
