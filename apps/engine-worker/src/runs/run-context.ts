import {
  clipText,
  createEvent,
  LOG_MESSAGE_MAX,
  type EventDataInput,
  type LogLevel,
  type RunEventType,
} from '@runforge/contracts';
import type { JetStreamClient } from '@runforge/messaging';

/**
 * Publishes the events of one attempt of one run through the transport's client. Every event
 * carries the attempt (fencing) and a deterministic message id, so a retried publish is deduplicated
 * by the stream. Several contexts may publish for one attempt (the coordinator and each trial batch):
 * each has its own `scope`, which its message ids carry, so their events never share an id (the
 * stream would drop all but one).
 */
export class RunContext {
  private seq = 0;
  /** Publishes under way (`emitPipelined`) and the first of them that failed. */
  private pipelined: Promise<void>[] = [];
  private pipelineError?: Error;
  /** When this context was made: when the attempt took the run (performance.now()). */
  readonly takenAt = performance.now();
  /** When the run last made progress (the stall clock); refreshed by progress events and `touch()`. */
  lastProgressAt = Date.now();

  constructor(
    private readonly client: JetStreamClient,
    readonly runId: string,
    readonly attempt: number,
    readonly workerId: string,
    readonly traceparent: string | undefined,
    /** Distinguishes this context's message ids from other contexts' of the same attempt ('' for the run's own). */
    private readonly scope = '',
    private readonly clock: () => Date = () => new Date(),
  ) {}

  touch(): void {
    this.lastProgressAt = Date.now();
  }

  /** Publishes and waits for the stream's acknowledgement. */
  async emit<T extends RunEventType>(type: T, data: EventDataInput<T>): Promise<void> {
    if (type === 'BarProgressed' || type === 'RunStarted') this.touch();
    const seq = this.seq++;
    await this.client.publishEvent(this.event(type, data), {
      discriminator: this.scope ? `${this.scope}.${seq}` : seq,
      traceparent: this.traceparent,
    });
  }

  /**
   * Publishes without waiting for the stream's acknowledgement: `flush()` waits for every publish
   * started this way (and throws the first failure). Publishes reach the stream in the order they
   * were made, so a run's events stay in order; flush before publishing what must come after them.
   */
  emitPipelined<T extends RunEventType>(type: T, data: EventDataInput<T>): void {
    const started = this.emit(type, data).catch((err: unknown) => {
      this.pipelineError ??= err instanceof Error ? err : new Error(String(err));
    });
    this.pipelined.push(started);
  }

  logPipelined(level: LogLevel, message: string, context?: Record<string, unknown>): void {
    this.emitPipelined('RunLogged', this.logData(level, message, context));
  }

  /** Waits until every pipelined publish is stored; throws the first that failed. */
  async flush(): Promise<void> {
    const pending = this.pipelined;
    this.pipelined = [];
    await Promise.all(pending);
    const err = this.pipelineError;
    this.pipelineError = undefined;
    if (err !== undefined) throw err;
  }

  /**
   * Publishes with an explicit discriminator (e.g. a trial id: the same fact twice is deduplicated).
   * The publish is under way when this returns (pipelined: callers collect the promises and await
   * them together, not one round trip each).
   */
  emitKeyed<T extends RunEventType>(type: T, data: EventDataInput<T>, key: string): Promise<void> {
    return this.client
      .publishEvent(this.event(type, data), { discriminator: key, traceparent: this.traceparent })
      .then(() => undefined);
  }

  /** A log line of the run (a longer message is clipped, never rejected). */
  async log(level: LogLevel, message: string, context?: Record<string, unknown>): Promise<void> {
    await this.emit('RunLogged', this.logData(level, message, context));
  }

  private logData(level: LogLevel, message: string, context?: Record<string, unknown>): EventDataInput<'RunLogged'> {
    return { level, message: clipText(message, LOG_MESSAGE_MAX), context: { workerId: this.workerId, ...context } };
  }

  private event<T extends RunEventType>(type: T, data: EventDataInput<T>): ReturnType<typeof createEvent<T>> {
    return createEvent(
      type,
      { runId: this.runId, attempt: this.attempt, occurredAt: this.clock().toISOString() },
      data,
    );
  }
}
