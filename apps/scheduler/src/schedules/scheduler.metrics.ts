import { Counter, Histogram } from 'prom-client';
import { metricsRegistry } from '@runforge/telemetry';

/** Scheduler series on the service's `/metrics` (see docs/scheduler.md). */
export const schedulerMetrics = {
  fires: new Counter({
    name: 'runforge_schedule_fires_total',
    help: 'Scheduled fires decided by this replica, by outcome (started, skipped, limited, missed)',
    labelNames: ['outcome'] as const,
    registers: [metricsRegistry],
  }),
  alreadyDecided: new Counter({
    name: 'runforge_schedule_fire_claims_lost_total',
    help: 'Fires another replica had already claimed (a healthy sign with several replicas)',
    registers: [metricsRegistry],
  }),
  errors: new Counter({
    name: 'runforge_schedule_fire_errors_total',
    help: 'Fire decisions that failed (retried on the next tick)',
    registers: [metricsRegistry],
  }),
  tick: new Histogram({
    name: 'runforge_scheduler_tick_seconds',
    help: 'Duration of one scheduler tick (read schedules, plan and decide the due fires)',
    buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
    registers: [metricsRegistry],
  }),
};
