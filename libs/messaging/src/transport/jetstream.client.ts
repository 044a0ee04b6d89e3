import { ClientProxy, type ReadPacket, type WritePacket } from '@nestjs/microservices';
import { headers as natsHeaders, type NatsConnection } from '@nats-io/nats-core';
import { jetstream, type JetStreamClient as NatsJetStream, type PubAck } from '@nats-io/jetstream';
import {
  decodeEvent,
  decodeRunDispatch,
  decodeScheduleChanged,
  decodeTrialBatch,
  decodeTrialBatchSettled,
  eventDefinition,
  eventMessageId,
  HEADERS,
  type RunDispatch,
  type RunEvent,
  type ScheduleChanged,
  type Topology,
  type TrialBatch,
  type TrialBatchSettled,
} from '@runforge/contracts';
import {
  ATTRS,
  busMetrics,
  contextFromTraceparent,
  currentTraceparent,
  recordSpanError,
  SPANS,
  SpanKind,
  tracer,
} from '@runforge/telemetry';
import { context } from '@opentelemetry/api';

export interface PublishOptions {
  /** Discriminates several events of one type within an attempt (e.g. a progress counter). */
  readonly discriminator?: string | number;
  /**
   * Parent of the publish span (e.g. the `RunRequested` header a worker executes). Without it the
   * publish span is a child of the active span. Either way the message's `traceparent` header is the
   * publish span's context, so one run stays one trace across services.
   */
  readonly traceparent?: string;
  /** Overrides the default deterministic message id. */
  readonly msgId?: string;
}

/**
 * A message with its publish options, for `emit(pattern, record)` (as Nest's own transports take a
 * record with headers).
 */
export class JetStreamRecord<T> {
  constructor(
    readonly data: T,
    readonly options: PublishOptions = {},
  ) {}
}

const encoder = new TextEncoder();

/**
 * The publishing side of the JetStream transport, as a Nest `ClientProxy`: `emit(type, message)`
 * stores a run event on `RUNS` (`runs.<runId>.<token>`), a `RunDispatch` or a `TrialBatch` on `WORK`,
 * each validated against its contract, with a deterministic `Nats-Msg-Id` (a retried publish is
 * dropped by the stream's duplicate window) and the `traceparent` of its publish span. The typed
 * methods below are the same publishes for code that awaits a promise. Events are fire-and-forget
 * from JetStream's view: there is no request/response.
 */
export class JetStreamClient extends ClientProxy {
  readonly js: NatsJetStream;

  /** `timeoutMs`: how long a publish waits for the server's ack (nats.js defaults to 5 s). */
  constructor(
    readonly nc: NatsConnection,
    readonly topology: Topology,
    timeoutMs?: number,
  ) {
    super();
    this.js = jetstream(nc, timeoutMs ? { timeout: timeoutMs } : {});
  }

  connect(): Promise<NatsConnection> {
    return Promise.resolve(this.nc);
  }

  close(): void {
    // The connection belongs to the service (drained on shutdown), not to this client.
  }

  unwrap<T>(): T {
    return this.nc as T;
  }

  /** Publishes a run event; resolves with the stream's acknowledgement. */
  async publishEvent(event: RunEvent, opts: PublishOptions = {}): Promise<PubAck> {
    // Re-validate even events built with createEvent: a mutated envelope must never reach the log.
    const checked = decodeEvent(event);
    const def = eventDefinition(checked.type);
    const msgId = opts.msgId ?? eventMessageId(checked.runId, checked.type, checked.attempt, opts.discriminator ?? 0);
    const subject = this.topology.runSubject(checked.runId, def.token);
    const parent = contextFromTraceparent(opts.traceparent, context.active()) ?? context.active();
    const attributes = {
      [ATTRS.messagingSystem]: 'nats',
      [ATTRS.messagingOperation]: 'send',
      [ATTRS.messagingDestination]: subject,
      [ATTRS.messagingMessageId]: msgId,
      [ATTRS.eventType]: checked.type,
      [ATTRS.runId]: checked.runId,
      [ATTRS.attempt]: checked.attempt,
    };
    return tracer().startActiveSpan(SPANS.publish, { kind: SpanKind.PRODUCER, attributes }, parent, async (span) => {
      try {
        const ack = await this.js.publish(subject, encoder.encode(JSON.stringify(checked)), {
          msgID: msgId,
          headers: this.traceHeaders(),
        });
        span.setAttribute(ATTRS.duplicate, ack.duplicate);
        (ack.duplicate ? busMetrics.duplicates : busMetrics.published).inc({ type: checked.type });
        return ack;
      } catch (err) {
        recordSpanError(span, err);
        throw err;
      } finally {
        span.end();
      }
    });
  }

  /**
   * Hands a run to the engine workers on `work.runs.<priority>`. Deduplicated per run by its message
   * id; carries the active trace context like every publish.
   */
  dispatchRun(d: RunDispatch): Promise<PubAck> {
    const checked = decodeRunDispatch(d);
    return this.js.publish(
      this.topology.runDispatchSubject(checked.priority),
      encoder.encode(JSON.stringify(checked)),
      { msgID: `${checked.runId}:dispatch`, headers: this.traceHeaders() },
    );
  }

  /** Queues an optimization's trial batch on `work.trials.<runId>` for every worker to take a share. */
  publishTrialBatch(batch: TrialBatch, opts: PublishOptions = {}): Promise<PubAck> {
    const checked = decodeTrialBatch(batch);
    return this.js.publish(this.topology.trialWorkSubject(checked.runId), encoder.encode(JSON.stringify(checked)), {
      msgID: opts.msgId ?? `${checked.runId}:batch:${checked.attempt}:${checked.batchIndex}`,
      headers: this.traceHeaders(opts.traceparent),
    });
  }

  /**
   * Tells the run's coordinator that a trial batch's outcomes are stored (core NATS, at most once:
   * the coordinator makes up a lost one from the stream). Buffered by the connection like any
   * publish; throws only if the summary is invalid or the connection is closed.
   */
  publishTrialBatchSettled(summary: TrialBatchSettled): void {
    const checked = decodeTrialBatchSettled(summary);
    this.nc.publish(this.topology.runTrialsSettledSubject(checked.runId), encoder.encode(JSON.stringify(checked)));
  }

  /** Records a schedule change on `schedules.<id>.<change>` (the audit, and the scheduler's cue). */
  publishScheduleChanged(change: ScheduleChanged): Promise<PubAck> {
    const checked = decodeScheduleChanged(change);
    return this.js.publish(
      this.topology.scheduleChangeSubject(checked.scheduleId, checked.change),
      encoder.encode(JSON.stringify(checked)),
      { msgID: `${checked.scheduleId}:${checked.change}:${checked.occurredAt}`, headers: this.traceHeaders() },
    );
  }

  protected publish(_packet: ReadPacket, callback: (packet: WritePacket) => void): () => void {
    callback({ err: 'JetStream carries events only: use emit(), not send()', isDisposed: true });
    return () => undefined;
  }

  protected async dispatchEvent<T = unknown>(packet: ReadPacket): Promise<T> {
    const pattern = String(packet.pattern);
    const raw: unknown = packet.data;
    const record: JetStreamRecord<unknown> =
      raw instanceof JetStreamRecord ? (raw as JetStreamRecord<unknown>) : new JetStreamRecord(raw);
    const { data, options } = record;
    if (pattern === 'RunDispatch') return (await this.dispatchRun(data as RunDispatch)) as T;
    if (pattern === 'TrialBatch') return (await this.publishTrialBatch(data as TrialBatch, options)) as T;
    if (pattern === 'ScheduleChanged') return (await this.publishScheduleChanged(data as ScheduleChanged)) as T;
    const event = data as RunEvent;
    if (event?.type !== pattern) throw new Error(`emit('${pattern}') got a ${String(event?.type)} message`);
    return (await this.publishEvent(event, options)) as T;
  }

  private traceHeaders(traceparent = currentTraceparent()): ReturnType<typeof natsHeaders> {
    const h = natsHeaders();
    if (traceparent) h.set(HEADERS.traceparent, traceparent);
    return h;
  }
}
