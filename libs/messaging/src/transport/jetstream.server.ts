import { Logger } from '@nestjs/common';
import { Server, type CustomTransportStrategy } from '@nestjs/microservices';
import type { NatsConnection } from '@nats-io/nats-core';
import type { Topology } from '@runforge/contracts';
import { isJetStreamBinding, type ConsumerName, type JetStreamBinding } from './bindings';
import { BatchRunner } from './batch-runner';
import { CoreRunner } from './core-runner';
import { PullRunner } from './pull-runner';
import type { Handler, Runner } from './runner';

/** The service's NATS connection and topology (resolved when the transport starts listening). */
export type ConnectionSource = () => { readonly nc: NatsConnection; readonly topology: Topology };
/** For batch bindings: the last sequence the app has applied; its consumer starts right after it. */
export type StartSequence = (consumer: ConsumerName) => Promise<number>;

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
