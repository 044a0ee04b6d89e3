import type { Logger } from '@nestjs/common';
import type { Msg, NatsConnection, Subscription } from '@nats-io/nats-core';
import type { Topology } from '@runforge/contracts';
import type { CoreBinding } from './bindings';
import { decoderFor } from './decoders';
import { CoreMessageContext } from './jetstream.context';
import { causeOf, invoke, type Handler, type Runner } from './runner';

/** A core NATS subscription; each message goes to the handler (at most once, nothing to settle). */
export class CoreRunner implements Runner {
  private sub?: Subscription;
  private readonly pending = new Set<Promise<void>>();
  private readonly decode: (raw: Uint8Array) => unknown;

  constructor(
    private readonly pattern: string,
    private readonly binding: CoreBinding,
    private readonly handler: Handler,
    private readonly nc: NatsConnection,
    private readonly t: Topology,
    private readonly log: Logger,
  ) {
    this.decode = decoderFor(pattern);
  }

  start(): void {
    const s = this.binding.subject;
    const subject = s === 'anyRunAbort' ? this.t.anyRunAbortSubject() : this.t.anyRunSubject(s.anyRunEvent);
    this.sub = this.nc.subscribe(subject, {
      callback: (err, msg) => {
        if (err) {
          this.log.warn({ err }, `subscription to ${subject} failed`);
          return;
        }
        this.deliver(msg);
      },
    });
  }

  async drain(): Promise<void> {
    this.sub?.unsubscribe();
    await Promise.allSettled([...this.pending]);
  }

  private deliver(msg: Msg): void {
    let data: unknown;
    try {
      data = this.decode(msg.data);
    } catch (err) {
      this.log.warn({ err, subject: msg.subject }, `undecodable ${this.pattern} ignored`);
      return;
    }
    const p = invoke(this.handler, data, new CoreMessageContext(msg)).catch((err: unknown) =>
      this.log.error({ err: err instanceof Error ? err : causeOf(err) }, `${this.pattern} handler failed`),
    );
    this.pending.add(p);
    void p.finally(() => this.pending.delete(p));
  }
}
