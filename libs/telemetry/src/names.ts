/**
 * Every span, span event and attribute name RunForge emits, in one place (STYLE: observability is
 * named once). Services import these constants; nothing spells a span name inline.
 */
export const SPANS = {
  /** PRODUCER span around one JetStream publish of a run event (child of whatever is active). */
  publish: 'runforge.event.publish',
  worker: {
    /** One attempt of one run on an engine worker (child of the `RunRequested` traceparent). */
    run: 'runforge.run.execute',
    /** One optimization trial, child of the run span (or of the trial batch span). */
    trial: 'runforge.run.trial',
    /** A batch of trials taken from the WORK stream, child of the run's traceparent. */
    trialBatch: 'runforge.run.trial_batch',
  },
  projection: {
    /** The events of one run applied in one projection batch (child of the events' traceparent). */
    apply: 'runforge.projection.apply',
    /** One projection transaction over a whole batch (its own trace, linked to every run's apply span). */
    batch: 'runforge.projection.batch',
  },
  scheduler: {
    /** A schedule firing: the root of the runs it requests. */
    fire: 'runforge.schedule.fire',
  },
} as const;

/** Span events (points in time inside a span). */
export const SPAN_EVENTS = {
  /** A worker picked up a redelivered run: the previous attempt lost its worker. */
  retry: 'runforge.run.retry',
  /** A worker observed cancellation. */
  cancelled: 'runforge.run.cancelled',
} as const;

export const ATTRS = {
  service: 'service.name',
  runId: 'runforge.run.id',
  runKind: 'runforge.run.kind',
  strategy: 'runforge.run.strategy',
  attempt: 'runforge.run.attempt',
  /** Bars of the run's dataset window (total) — or processed so far on a progress/outcome. */
  bars: 'runforge.run.bars',
  processedBars: 'runforge.run.processed_bars',
  triggeredBy: 'runforge.run.triggered_by',
  scheduleId: 'runforge.schedule.id',
  trialIndex: 'runforge.trial.index',
  trialId: 'runforge.trial.id',
  trialCount: 'runforge.trial.count',
  previousAttempt: 'runforge.run.previous_attempt',
  eventType: 'runforge.event.type',
  eventTypes: 'runforge.event.types',
  eventCount: 'runforge.event.count',
  /** Stream sequence range of the applied messages. */
  firstSeq: 'runforge.stream.first_seq',
  lastSeq: 'runforge.stream.last_seq',
  batchSize: 'runforge.projection.batch_size',
  runCount: 'runforge.projection.run_count',
  // OpenTelemetry messaging semantic conventions for the NATS publish spans.
  messagingSystem: 'messaging.system',
  messagingDestination: 'messaging.destination.name',
  messagingOperation: 'messaging.operation.type',
  messagingMessageId: 'messaging.message.id',
  duplicate: 'runforge.event.duplicate',
} as const;

export type SpanName =
  | typeof SPANS.publish
  | (typeof SPANS.worker)[keyof typeof SPANS.worker]
  | (typeof SPANS.projection)[keyof typeof SPANS.projection]
  | (typeof SPANS.scheduler)[keyof typeof SPANS.scheduler];
export type AttrName = (typeof ATTRS)[keyof typeof ATTRS];
