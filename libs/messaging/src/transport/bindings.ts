import type { Topology } from '@runforge/contracts';

/**
 * How a handler is bound to JetStream: the `extras` of its `@EventPattern(pattern, extras)`. The
 * pattern names what the handler receives (a message type such as `RunDispatch` or `TrialBatch`, an
 * event type such as `RunCancellationRequested`, or a subject such as `runs.>`); the binding says
 * where it comes from and how it is consumed. Names refer to the topology (`Topology.consumers`), so
 * one decorator serves every namespace.
 */
export type JetStreamBinding = PullBinding | BatchBinding | CoreBinding;

export type ConsumerName = keyof Topology['consumers'];

/**
 * Messages pulled from durable consumers one at a time (`next()`: no client-side buffer, so a process
 * that stops holds nothing it has not started, and a delivery count is exactly its attempt).
 */
export interface PullBinding {
  readonly kind: 'pull';
  /** In priority order: the first that has messages waiting is pulled from. */
  readonly consumers: readonly ConsumerName[];
  /** Handlers running at once (default 1: serial). */
  readonly maxInFlight?: number;
  /**
   * A message for which this answers true runs alone: it waits (its lease renewed) until the
   * handlers in flight have finished, and nothing more is pulled until it has. E.g. the workers run
   * several short runs at once but a long one alone.
   */
  readonly exclusive?: (data: unknown) => boolean;
  /**
   * `auto` (default): acked when the handler resolves, nak'd (1 s) when it throws, unless it settled
   * the message itself. `manual`: the handler settles it, possibly after it resolved (the lease is
   * renewed until then).
   */
  readonly ack?: 'auto' | 'manual';
  /**
   * With several consumers: after this many messages in a row from a higher one, a waiting message
   * of a lower one goes first once (no starvation). Default 4.
   */
  readonly fairnessStreak?: number;
  /** How long one pull waits (the client's minimum is 1 s). Default 1000. */
  readonly pullExpiresMs?: number;
  /**
   * What happens to a message that arrives after draining began: `nak` (default) hands it straight
   * back; `deliver` calls the handler with `ctx.draining` set, so it can record why before it naks.
   */
  readonly onDrain?: 'nak' | 'deliver';
}

/**
 * Every message of a durable consumer, in stream order, handed to the handler in batches. The
 * consumer is (re)created to start after the sequence the app says it has applied
 * (`JetStreamServerOptions.startSequence`), so the app's checkpoint is the truth; a failed batch, or a
 * gap in deliveries, restarts from there. Acked once the handler resolved.
 */
export interface BatchBinding {
  readonly kind: 'batch';
  readonly consumer: ConsumerName;
  /** A batch closes at this many messages… */
  readonly maxMessages: number;
  /** …or this long after its first message arrived (a time bound: never waits on a server's estimate)… */
  readonly lingerMs: number;
  /**
   * …but a batch of routine messages no sooner than this long after the previous batch began (a
   * trickle of progress costs a few batches a second)…
   */
  readonly minIntervalMs?: number;
  /**
   * …unless it holds an urgent message (by subject): then it closes `lingerMs` after that one arrived.
   * E.g. the projection applies a run's state changes at once and its progress every interval.
   */
  readonly urgent?: (subject: string) => boolean;
  readonly ackWaitSeconds: number;
  readonly maxAckPending: number;
  /** Consumes only while this gate is open (`JetStreamServer.setGate`); e.g. while holding leadership. */
  readonly gate?: string;
}

/**
 * A core NATS subscription (at most once, nothing stored): pushes such as a cancellation, which
 * reach core subscribers the moment JetStream stores them, or control messages never stored.
 */
export interface CoreBinding {
  readonly kind: 'core';
  /** The subject: an event's token across all runs (`runs.*.<token>`), or the runs' abort subject. */
  readonly subject: { readonly anyRunEvent: string } | 'anyRunAbort';
}

export const pull = (b: Omit<PullBinding, 'kind'>): PullBinding => ({ kind: 'pull', ...b });
export const batch = (b: Omit<BatchBinding, 'kind'>): BatchBinding => ({ kind: 'batch', ...b });
export const core = (subject: CoreBinding['subject']): CoreBinding => ({ kind: 'core', subject });

export function isJetStreamBinding(extras: unknown): extras is JetStreamBinding {
  const kind = (extras as { kind?: unknown } | undefined)?.kind;
  return kind === 'pull' || kind === 'batch' || kind === 'core';
}
