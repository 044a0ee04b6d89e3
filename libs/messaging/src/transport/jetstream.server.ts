import { Logger } from '@nestjs/common';
import { Server, type CustomTransportStrategy, type MessageHandler } from '@nestjs/microservices';
import {
  AckPolicy,
  DeliverPolicy,
  jetstream,
  jetstreamManager,
  type Consumer,
  type ConsumerMessages,
  type JsMsg,
} from '@nats-io/jetstream';
import { nanos, type Msg, type NatsConnection, type Subscription } from '@nats-io/nats-core';
import type { Topology } from '@runforge/contracts';
import { isObservable, lastValueFrom } from 'rxjs';
import {
  isJetStreamBinding,
  type BatchBinding,
  type ConsumerName,
  type CoreBinding,
  type JetStreamBinding,
  type PullBinding,
} from './bindings';
import { decoderFor } from './decoders';
import { CoreMessageContext, JetStreamBatchContext, JetStreamContext, type BatchMessage } from './jetstream.context';

/** The service's NATS connection and topology (resolved when the transport starts listening). */
export type ConnectionSource = () => { readonly nc: NatsConnection; readonly topology: Topology };
/** For batch bindings: the last sequence the app has applied; its consumer starts right after it. */
export type StartSequence = (consumer: ConsumerName) => Promise<number>;

interface Runner {
  start(): void;
  /** Stops taking messages; resolves once what was taken has been handled and settled. */
  drain(): Promise<void>;
}

type Handler = MessageHandler<unknown, unknown, unknown>;

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
/** An idle multi-consumer binding pulls anyway every this many idle rounds (see `next`). */
const PROBE_EVERY_IDLE_ROUNDS = 5;
/** How long a drain waits for deliveries a handler settles after it resolved (outcomes in flight). */
const DRAIN_SETTLE_MS = 10_000;

/** Calls a Nest handler and waits for its result, an Observable included (Nest turns a throw into an erroring one). */
async function invoke(handler: Handler, data: unknown, ctx: unknown): Promise<void> {
  const out: unknown = await handler(data, ctx);
  if (isObservable(out)) await lastValueFrom(out, { defaultValue: undefined });
}

const causeOf = (err: unknown): string =>
  err instanceof Error
    ? err.message
    : typeof err === 'object' && err !== null && 'message' in err
      ? String(err.message)
      : String(err);

/**
 * A Nest microservice transport over JetStream. Handlers are ordinary controller methods bound with
 * `@EventPattern(pattern, binding)` (see `bindings.ts`); the transport owns what JetStream adds
 * around them: pull loops over durable consumers (one message at a time, or a few), priorities across
 * consumers, lease renewal while a delivery is unsettled, ordered batches from an app-owned
 * checkpoint, core subscriptions for pushes, reconnects, and a graceful drain on shutdown.
 * Nest's own NATS transport is core NATS only (at most once, no acks, no durable consumers): see
 * docs/adr/0003-jetstream-transport.md.
 */
export class JetStreamServer extends Server implements CustomTransportStrategy {
  protected override readonly logger = new Logger('JetStreamServer');
  private readonly runners: Runner[] = [];
  private readonly gates = new Map<string, { open: boolean; waiters: (() => void)[] }>();
  private draining?: Promise<void>;
  private connection?: ConnectionSource;
  private startSequence?: StartSequence;

  /** Set by the service's bootstrap before it starts the transport. */
  useConnection(source: ConnectionSource): void {
    this.connection = source;
  }

  /** Set by the app that owns the checkpoint of its batch bindings (e.g. the projection). */
  useStartSequence(fn: StartSequence): void {
    this.startSequence = fn;
  }

  private connected(): ReturnType<ConnectionSource> {
    if (!this.connection) throw new Error('JetStreamServer: no connection (useConnection was not called)');
    return this.connection();
  }

  listen(callback: (err?: unknown) => void): void {
    try {
      const { nc, topology } = this.connected();
      for (const [pattern, handler] of this.messageHandlers) {
        const binding: unknown = handler.extras;
        if (!isJetStreamBinding(binding)) {
          this.logger.warn(`@EventPattern('${pattern}') has no JetStream binding; not consumed`);
          continue;
        }
        const runner = this.runnerFor(pattern, binding, handler, nc, topology);
        this.runners.push(runner);
        runner.start();
      }
      callback();
    } catch (err) {
      callback(err);
    }
  }

  /**
   * Stops taking messages on every binding and waits for what was taken (SIGTERM: called by the app
   * before the NATS connection drains). Idempotent; `close()` calls it too.
   */
  drain(): Promise<void> {
    this.draining ??= Promise.all(this.runners.map((r) => r.drain())).then(() => undefined);
    return this.draining;
  }

  async close(): Promise<void> {
    await this.drain();
  }

  /** Opens or closes a gate that batch bindings wait on (e.g. the projection's leadership). */
  setGate(name: string, open: boolean): void {
    const gate = this.gate(name);
    gate.open = open;
    if (open) for (const w of gate.waiters.splice(0)) w();
    else for (const r of this.runners) if (r instanceof BatchRunner && r.gateName === name) r.interrupt();
  }

  isGateOpen(name: string): boolean {
    return this.gate(name).open;
  }

  /** Resolves once the gate is open. */
  whenGateOpen(name: string): Promise<void> {
    const gate = this.gate(name);
    return gate.open ? Promise.resolve() : new Promise((resolve) => gate.waiters.push(resolve));
  }

  on(): never {
    throw new Error('JetStreamServer has no events to listen to');
  }

  unwrap<T>(): T {
    return this.connected().nc as T;
  }

  private gate(name: string): { open: boolean; waiters: (() => void)[] } {
    let gate = this.gates.get(name);
    if (!gate) this.gates.set(name, (gate = { open: false, waiters: [] }));
    return gate;
  }

  private runnerFor(
    pattern: string,
    binding: JetStreamBinding,
    handler: Handler,
    nc: NatsConnection,
    t: Topology,
  ): Runner {
    const log = new Logger(`JetStream:${pattern}`);
    switch (binding.kind) {
      case 'pull':
        return new PullRunner(pattern, binding, handler, nc, t, log);
      case 'batch': {
        const startSequence = (consumer: ConsumerName): Promise<number> => {
          if (!this.startSequence) throw new Error(`@EventPattern('${pattern}'): no start sequence (useStartSequence)`);
          return this.startSequence(consumer);
        };
        return new BatchRunner(pattern, binding, handler, nc, t, log, startSequence, this);
      }
      case 'core':
        return new CoreRunner(pattern, binding, handler, nc, t, log);
      default: {
        const never: never = binding;
        throw new Error(`unknown binding ${JSON.stringify(never)}`);
      }
    }
  }
}

/** Pulls from one or more durable consumers (priority order), up to `maxInFlight` handlers at once. */
class PullRunner implements Runner {
  private stopping = false;
  private loop?: Promise<void>;
  private readonly inFlight = new Set<Promise<void>>();
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
          this.dispatch(msg, this.stopping);
        }
      } catch (err) {
        if (this.stopping) break;
        this.log.error({ err }, `pull from ${this.binding.consumers.join(', ')} failed; binding again`);
        await sleep(1000);
      }
    }
  }

  private async slot(): Promise<void> {
    while (this.inFlight.size >= this.max && !this.stopping) {
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

  private dispatch(msg: JsMsg, draining: boolean): void {
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
      this.freed?.();
    });
  }
}

/**
 * Consumes a durable consumer in stream order from the app's checkpoint, in batches closed by size or
 * time (never by the server's pending estimate, which NATS 2.9 gets wrong for a filtered consumer that
 * starts mid-stream); a failed batch or a gap in deliveries restarts from the checkpoint.
 */
class BatchRunner implements Runner {
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
    private readonly server: JetStreamServer,
  ) {
    this.decode = decoderFor(pattern);
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
    const messages = await consumer.consume({ max_messages: this.binding.maxMessages });
    this.messages = messages;
    let buffer: JsMsg[] = [];
    let timer: NodeJS.Timeout | undefined;
    let lastFlushAt = Number.NEGATIVE_INFINITY;
    let chain: Promise<void> = Promise.resolve();
    let failure: unknown;
    const flush = (): Promise<void> => {
      clearTimeout(timer);
      timer = undefined;
      if (buffer.length === 0) return chain;
      const msgs = buffer;
      buffer = [];
      lastFlushAt = performance.now();
      chain = chain
        .then(async () => {
          if (failure !== undefined) return;
          const batch: BatchMessage<unknown>[] = msgs.map((m) => {
            const meta = {
              seq: m.seq,
              subject: m.subject,
              headers: m.headers,
              storedAtMs: m.info.timestampNanos / 1e6,
              redelivered: m.info.redelivered,
            };
            try {
              return { ...meta, data: this.decode(m.data) };
            } catch (error) {
              return { ...meta, data: undefined, error };
            }
          });
          await invoke(this.handler, batch, new JetStreamBatchContext(batch, after));
          const highest = msgs.reduce((a, b) => (b.seq > a.seq ? b : a));
          highest.ack();
        })
        .catch((err: unknown) => {
          failure ??= err instanceof Error ? err : new Error(`${this.pattern} batch failed: ${causeOf(err)}`);
          messages.stop();
        });
      return chain;
    };
    // Deliveries are numbered per consumer, redeliveries included: a gap means some never arrived
    // (a reconnect), and the stream order can only be kept by starting again from the checkpoint.
    let lastDelivery = 0;
    for await (const m of messages) {
      if (m.info.deliverySequence !== lastDelivery + 1) {
        failure ??= new Error(
          `deliveries ${lastDelivery + 1}..${m.info.deliverySequence - 1} never arrived; restarting from the checkpoint`,
        );
        messages.stop();
        break;
      }
      lastDelivery = m.info.deliverySequence;
      buffer.push(m);
      if (buffer.length >= this.binding.maxMessages) await flush();
      else if (!timer) {
        const wait = Math.max(
          this.binding.lingerMs,
          lastFlushAt + (this.binding.minIntervalMs ?? 0) - performance.now(),
        );
        timer = setTimeout(() => void flush(), wait);
      }
      if (gate && !this.server.isGateOpen(gate)) {
        messages.stop();
        break;
      }
    }
    clearTimeout(timer);
    // After a failure (or a closed gate) what is buffered is not applied nor acked: the restart reads it again.
    if (failure === undefined && !(gate && !this.server.isGateOpen(gate))) await flush();
    else await chain;
    if (failure !== undefined) throw failure instanceof Error ? failure : new Error(causeOf(failure));
  }
}

/** A core NATS subscription; each message goes to the handler (at most once, nothing to settle). */
class CoreRunner implements Runner {
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
