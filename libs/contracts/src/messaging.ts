/**
 * Stream and consumer settings every service provisions identically (idempotent create-or-update
 * at start). Plain values so this library stays independent of the client; libs/platform maps
 * them onto the NATS API.
 */
export const RUNS_STREAM_SETTINGS = {
  storage: 'file',
  retention: 'limits',
  /** No age limit: the stream is the audit log. */
  maxAgeSeconds: 0,
  /** Idempotent publishes are deduplicated by `Nats-Msg-Id` inside this window. */
  duplicateWindowSeconds: 120,
} as const;

export const WORK_STREAM_SETTINGS = {
  storage: 'file',
  retention: 'workqueue',
  maxAgeSeconds: 7 * 24 * 3600,
  duplicateWindowSeconds: 120,
} as const;

/** Schedule changes: the audit of who changed which schedule, kept 90 days. */
export const SCHEDULES_STREAM_SETTINGS = {
  storage: 'file',
  retention: 'limits',
  maxAgeSeconds: 90 * 24 * 3600,
  duplicateWindowSeconds: 120,
} as const;

export const CONSUMER_SETTINGS = {
  engine: {
    /**
     * Both priority consumers (`engine-high`, `engine-normal`). The ack wait is 2.5× the default
     * heartbeat (2 s); a worker renews with `working()` every min(heartbeatSeconds, ackWait / 3), so
     * a SIGKILLed worker's run is redelivered 3–5 s after it died: under 3 heartbeat intervals.
     */
    ackWaitSeconds: 5,
    /** Retries are bounded per run by `maxRetries` (the worker fails the run); this is a backstop. */
    maxDeliver: 50,
    maxAckPending: 1_000,
  },
  projection: { ackWaitSeconds: 30, maxDeliver: -1, maxAckPending: 20_000 },
  trials: { ackWaitSeconds: 5, maxDeliver: 50, maxAckPending: 1_000 },
  scheduler: { ackWaitSeconds: 30, maxDeliver: 10, maxAckPending: 100 },
} as const;

/** Message headers carried by every publish. */
export const HEADERS = {
  msgId: 'Nats-Msg-Id',
  traceparent: 'traceparent',
  tracestate: 'tracestate',
} as const;

/**
 * Deterministic message ids make publishes idempotent: a retried publish of the same fact is
 * dropped by the stream's duplicate window.
 */
export function eventMessageId(runId: string, type: string, attempt: number, discriminator: string | number): string {
  return `${runId}:${type}:${attempt}:${discriminator}`;
}
