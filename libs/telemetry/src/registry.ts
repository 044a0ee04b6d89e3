import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';

/**
 * The process's Prometheus registry, served at `GET /metrics` by every service (PlatformModule).
 * Every series carries a `service` label (set when the platform module starts).
 */
export const metricsRegistry = new Registry();

/**
 * How often the event-loop delay histogram (`nodejs_eventloop_lag_*`) samples the loop. prom-client's
 * default, 10 ms, is a timer that wakes every service 100 times a second whether or not it has work:
 * on this project's reference machine (a nested VM where a wake-up costs tens of microseconds) that was
 * the larger part of an idle service's CPU, and each wake-up preempted an engine on a saturated core.
 * A block of the loop still shows in full: it delays the next sample by as long as it lasts.
 */
export const EVENT_LOOP_SAMPLE_MS = Math.max(1, Number(process.env.RUNFORGE_EVENT_LOOP_SAMPLE_MS ?? 100) || 100);
collectDefaultMetrics({ register: metricsRegistry, eventLoopMonitoringPrecision: EVENT_LOOP_SAMPLE_MS });

export function setMetricsService(service: string): void {
  metricsRegistry.setDefaultLabels({ service });
}

const DURATION_BUCKETS = [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800, 3600, 7200];

/**
 * Run lifecycle, derived by the projection from the facts it applies to the read models (so one
 * place counts every run, whichever worker ran it, and a redelivered batch is never counted twice
 * within a process). `rate()` over these gives runs per second.
 */
export const runMetrics = {
  requested: new Counter({
    name: 'runforge_runs_requested_total',
    help: 'Runs requested (RunRequested applied by the projection), by kind and trigger',
    labelNames: ['kind', 'triggered_by'] as const,
    registers: [metricsRegistry],
  }),
  started: new Counter({
    name: 'runforge_runs_started_total',
    help: 'Run attempts started (RunStarted applied by the projection; a retried run counts each attempt)',
    labelNames: ['kind'] as const,
    registers: [metricsRegistry],
  }),
  completed: new Counter({
    name: 'runforge_runs_completed_total',
    help: 'Runs that ended Completed',
    labelNames: ['kind'] as const,
    registers: [metricsRegistry],
  }),
  failed: new Counter({
    name: 'runforge_runs_failed_total',
    help: 'Runs that ended Failed, by failure reason (error, attempts_exhausted, timeout, …)',
    labelNames: ['kind', 'reason'] as const,
    registers: [metricsRegistry],
  }),
  cancelled: new Counter({
    name: 'runforge_runs_cancelled_total',
    help: 'Runs that ended Cancelled',
    labelNames: ['kind'] as const,
    registers: [metricsRegistry],
  }),
  attemptsAbandoned: new Counter({
    name: 'runforge_run_attempts_abandoned_total',
    help: 'Attempts abandoned because their worker stopped heart-beating (each one is a retry)',
    labelNames: ['kind'] as const,
    registers: [metricsRegistry],
  }),
  duration: new Histogram({
    name: 'runforge_run_duration_seconds',
    help: 'Run duration from start of the final attempt to its terminal event, by kind and final status',
    labelNames: ['kind', 'status'] as const,
    buckets: DURATION_BUCKETS,
    registers: [metricsRegistry],
  }),
  trials: new Counter({
    name: 'runforge_trials_total',
    help: 'Optimization trials recorded (TrialCompleted / TrialFailed applied by the projection)',
    labelNames: ['status'] as const,
    registers: [metricsRegistry],
  }),
};

/** Counted where the work happens: the engine worker increments these (see docs/operations.md). */
export const workerMetrics = {
  bars: new Counter({
    name: 'runforge_worker_bars_processed_total',
    help: 'Bars run through the engine by this worker (rate() = bars/s)',
    labelNames: ['kind'] as const,
    registers: [metricsRegistry],
  }),
  trials: new Counter({
    name: 'runforge_worker_trials_executed_total',
    help: 'Trials executed by this worker, by outcome (rate() = trials/s)',
    labelNames: ['status'] as const,
    registers: [metricsRegistry],
  }),
  activeRuns: new Gauge({
    name: 'runforge_worker_active_runs',
    help: 'Runs (or trial batches) this worker is executing now',
    labelNames: ['kind'] as const,
    registers: [metricsRegistry],
  }),
};

/** Messages a consumer received again (JetStream redelivery: ack wait expired, nak, or a restart). */
export const redeliveries = new Counter({
  name: 'runforge_consumer_redeliveries_total',
  help: 'Messages received with a delivery count above 1, by durable consumer',
  labelNames: ['consumer'] as const,
  registers: [metricsRegistry],
});

/** Every service: publishes of run events (EventBus.publish). */
export const busMetrics = {
  published: new Counter({
    name: 'runforge_events_published_total',
    help: 'Run events stored in the RUNS stream by this process, by event type',
    labelNames: ['type'] as const,
    registers: [metricsRegistry],
  }),
  duplicates: new Counter({
    name: 'runforge_events_publish_duplicates_total',
    help: 'Publishes the stream dropped as duplicates (same Nats-Msg-Id within the window: a retried publish)',
    labelNames: ['type'] as const,
    registers: [metricsRegistry],
  }),
};

export const projectionMetrics = {
  applied: new Counter({
    name: 'runforge_projection_events_applied_total',
    help: 'Events folded into the read models, by event type',
    labelNames: ['type'] as const,
    registers: [metricsRegistry],
  }),
  batchDuration: new Histogram({
    name: 'runforge_projection_batch_duration_seconds',
    help: 'Time to apply one batch (transaction including the checkpoint)',
    buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
    registers: [metricsRegistry],
  }),
  eventDelay: new Histogram({
    name: 'runforge_projection_event_delay_seconds',
    help: 'From an event being stored in the stream to its being committed to the read models',
    buckets: [0.002, 0.005, 0.01, 0.015, 0.025, 0.05, 0.06, 0.1, 0.15, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
    registers: [metricsRegistry],
  }),
  appliedSeq: new Gauge({
    name: 'runforge_projection_applied_seq',
    help: 'Last RUNS stream sequence committed to the read models (the checkpoint)',
    registers: [metricsRegistry],
  }),
};
