import type { Logger } from '@nestjs/common';
import { jetstream, type Consumer, type JsMsg } from '@nats-io/jetstream';
import type { NatsConnection, Subscription } from '@nats-io/nats-core';
import type { Topology } from '@runforge/contracts';
import type { PullBinding } from './bindings';
import { decoderFor } from './decoders';
import { JetStreamContext } from './jetstream.context';
import { causeOf, invoke, sleep, type Handler, type Runner } from './runner';

/** An idle multi-consumer binding pulls anyway every this many idle rounds (see `next`). */
const PROBE_EVERY_IDLE_ROUNDS = 5;
/** How long a drain waits for deliveries a handler settles after it resolved (outcomes in flight). */
const DRAIN_SETTLE_MS = 10_000;

/** Pulls from one or more durable consumers (priority order), up to `maxInFlight` handlers at once. */
export class PullRunner implements Runner {
  private stopping = false;
  private loop?: Promise<void>;
  private readonly inFlight = new Set<Promise<void>>();
  /** An exclusive handler is running: nothing else is pulled until it has finished. */
  private exclusiveRunning = false;
  /** Deliveries not settled yet: their leases are renewed. */
  private readonly held = new Set<JetStreamContext>();
  private prefetched?: Promise<JsMsg | null>;
  private consumers: Consumer[] = [];
  private streak = 0;
  private idleRounds = 0;
  private wake?: () => void;
  private freed?: () => void;
  private wakeSubs: Subscription[] = [];
  private renewTimer?: NodeJS.Timeout;
  private readonly decode: (raw: Uint8Array) => unknown;
  private readonly max: number;
  private readonly expires: number;

  constructor(
    private readonly pattern: string,
    private readonly binding: PullBinding,
    private readonly handler: Handler,
    private readonly nc: NatsConnection,
    private readonly t: Topology,
    private readonly log: Logger,
  ) {
    this.decode = decoderFor(pattern);
    this.max = Math.max(1, binding.maxInFlight ?? 1);
    this.expires = Math.max(1000, binding.pullExpiresMs ?? 1000);
  }

  start(): void {
    if (this.binding.consumers.length > 1) {
      // Idle: sleep until something is published on one of the subjects (stored messages reach core
      // subscribers too), instead of polling every consumer.
      for (const name of this.binding.consumers) {
        this.wakeSubs.push(this.nc.subscribe(this.t.consumers[name].filterSubject, { callback: () => this.wake?.() }));
      }
    }
    this.loop = this.run();
  }

  async drain(): Promise<void> {
    this.stopping = true;
    this.wake?.();
    this.freed?.();
    await this.loop?.catch(() => undefined);
    await Promise.allSettled([...this.inFlight]);
    const held = await this.prefetched?.catch(() => null);
    this.prefetched = undefined;
    held?.nak();
    // Handlers that settle after they resolved (outcomes still being stored): give them a moment.
    await Promise.race([Promise.all([...this.held].map((c) => c.whenSettled())), sleep(DRAIN_SETTLE_MS)]);
    clearInterval(this.renewTimer);
    for (const s of this.wakeSubs) s.unsubscribe();
  }

  private async run(): Promise<void> {
    while (!this.stopping) {
      try {
        const js = jetstream(this.nc);
        this.consumers = await Promise.all(
          this.binding.consumers.map((n) => js.consumers.get(this.t.consumers[n].stream, this.t.consumers[n].durable)),
        );
        const info = await (this.consumers[0] as Consumer).info(true);
        const ackWaitMs = Math.max(1000, (info.config.ack_wait ?? 30e9) / 1e6);
        clearInterval(this.renewTimer);
        this.renewTimer = setInterval(() => {
          for (const ctx of this.held) ctx.working();
        }, ackWaitMs / 3);
        while (!this.stopping) {
          await this.slot();
          if (this.stopping) break;
          const fromPrefetch = this.prefetched !== undefined;
          const msg = await this.next();
          if (!msg) continue;
          if (fromPrefetch) msg.working(); // it waited for the slot: its ack wait starts over
          await this.dispatch(msg, this.stopping);
        }
      } catch (err) {
        if (this.stopping) break;
        this.log.error({ err }, `pull from ${this.binding.consumers.join(', ')} failed; binding again`);
        await sleep(1000);
      }
    }
  }

  private async slot(): Promise<void> {
    while ((this.inFlight.size >= this.max || this.exclusiveRunning) && !this.stopping) {
      await new Promise<void>((resolve) => (this.freed = resolve));
      this.freed = undefined;
    }
  }

  private pullAhead(): void {
    if (this.prefetched || this.stopping || this.consumers.length !== 1) return;
    const pulled = (this.consumers[0] as Consumer).next({ expires: this.expires });
    pulled.catch(() => undefined); // surfaces when `next()` hands it to the loop
    this.prefetched = pulled;
  }

  /**
   * The next message. With several consumers it decides from their state where to pull, so a pull
   * never lands a message the process has no slot for: the first with messages waiting, except that
   * after `fairnessStreak` in a row from a higher one a waiting lower one goes first once; with
   * nothing waiting it keeps a pull open where deliveries are in flight (a crashed process's
   * message is redelivered the moment its ack wait expires) or sleeps until a publish wakes it.
   */
  private async next(): Promise<JsMsg | null> {
    if (this.prefetched) {
      const held = this.prefetched;
      this.prefetched = undefined;
      return held;
    }
    if (this.consumers.length === 1) return (this.consumers[0] as Consumer).next({ expires: this.expires });
    const infos = await Promise.all(this.consumers.map((c) => c.info()));
    const streakLimit = this.binding.fairnessStreak ?? 4;
    const waiting = infos.map((i, k) => (i.num_pending > 0 ? k : -1)).filter((k) => k >= 0);
    let source: number | undefined;
    if (waiting.length > 0) {
      const first = waiting[0] as number;
      source = first === 0 && waiting.length > 1 && this.streak >= streakLimit ? waiting[1] : first;
    } else {
      const inFlightSomewhere = infos.findIndex((i) => i.num_ack_pending > 0);
      if (inFlightSomewhere >= 0) source = inFlightSomewhere;
    }
    if (source === undefined) {
      // Every few idle rounds, pull anyway (bounded by `expires`), highest first: the decision above
      // rests on the server's counts, and a loop must never wait on an estimate alone.
      this.idleRounds += 1;
      if (this.idleRounds % PROBE_EVERY_IDLE_ROUNDS === 0) {
        for (const [k, c] of this.consumers.entries()) {
          const probed = await c.next({ expires: this.expires });
          if (probed) {
            this.streak = k === 0 ? this.streak + 1 : 0;
            return probed;
          }
        }
        return null;
      }
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, this.expires);
        this.wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      this.wake = undefined;
      return null;
    }
    this.idleRounds = 0;
    const msg = await (this.consumers[source] as Consumer).next({ expires: this.expires });
    if (msg) this.streak = source === 0 ? this.streak + 1 : 0;
    return msg;
  }

  /** Until every handler in flight has finished (or draining began). */
  private async quiet(): Promise<void> {
    while (this.inFlight.size > 0 && !this.stopping) {
      await new Promise<void>((resolve) => (this.freed = resolve));
      this.freed = undefined;
    }
  }

  private async dispatch(msg: JsMsg, draining: boolean): Promise<void> {
    const ctx = new JetStreamContext(msg, draining, {
      pullAhead: () => this.pullAhead(),
      onSettled: (c) => this.held.delete(c),
    });
    this.held.add(ctx);
    if (draining && this.binding.onDrain !== 'deliver') {
      ctx.nak();
      return;
    }
    let data: unknown;
    try {
      data = this.decode(msg.data);
    } catch (err) {
      // It can never be processed: terminate instead of redelivering it for ever.
      this.log.error({ err, subject: msg.subject, seq: msg.seq }, `undecodable ${this.pattern} terminated`);
      ctx.term(`undecodable: ${causeOf(err).slice(0, 200)}`);
      return;
    }
    const exclusive = this.binding.exclusive?.(data) ?? false;
    if (exclusive) {
      // Held (its lease renewed) until the handlers in flight have finished; then it runs alone.
      await this.quiet();
      this.exclusiveRunning = true;
    }
    const handled = invoke(this.handler, data, ctx).then(
      () => {
        if (this.binding.ack !== 'manual') ctx.ack();
      },
      (err: unknown) => {
        this.log.error(
          { err: err instanceof Error ? err : causeOf(err), subject: msg.subject },
          `${this.pattern} handler failed`,
        );
        ctx.nak(1000);
      },
    );
    this.inFlight.add(handled);
    void handled.finally(() => {
      this.inFlight.delete(handled);
      if (exclusive) this.exclusiveRunning = false;
      this.freed?.();
    });
  }
}
