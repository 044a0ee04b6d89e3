import { kindOf, type RunEvent, type RunEventType } from '@runforge/contracts';
import { runMetrics } from './registry';

/** Events that move the run-lifecycle counters; the projection decodes only these for metrics. */
export const LIFECYCLE_EVENT_TYPES: ReadonlySet<RunEventType> = new Set<RunEventType>([
  'RunRequested',
  'RunStarted',
  'RunAttemptAbandoned',
  'RunCompleted',
  'RunFailed',
  'RunCancelled',
  'TrialCompleted',
  'TrialFailed',
  'TrialsRecorded',
]);

/** The committed read-model row of a run, as far as the counters need it. */
export interface LifecycleRow {
  readonly kind: string;
  readonly status: string;
  readonly attempt: number;
  readonly startedAt: Date | null;
  readonly completedAt: Date | null;
}

const TERMINAL: Partial<Record<RunEventType, string>> = {
  RunCompleted: 'Completed',
  RunFailed: 'Failed',
  RunCancelled: 'Cancelled',
};

/**
 * Derives the run-lifecycle counters from the events a projection batch committed, checked against
 * the rows they produced: a terminal event counts only when it is the one that decided the run's
 * final status (a stale attempt's outcome, or a second terminal event, is ignored like the fold
 * ignores it), and each run's end is counted once per process.
 */
export class RunLifecycleCounter {
  private readonly ended = new Set<string>();

  constructor(private readonly rememberRuns = 50_000) {}

  record(events: readonly RunEvent[], rows: ReadonlyMap<string, LifecycleRow>): void {
    for (const e of events) {
      const row = rows.get(e.runId);
      const kind = row?.kind ?? (e.type === 'RunRequested' ? kindOf(e.data) : 'unknown');
      switch (e.type) {
        case 'RunRequested':
          runMetrics.requested.inc({ kind: kindOf(e.data), triggered_by: e.data.triggeredBy });
          break;
        case 'RunStarted':
          runMetrics.started.inc({ kind });
          break;
        case 'RunAttemptAbandoned':
          runMetrics.attemptsAbandoned.inc({ kind });
          break;
        case 'TrialCompleted':
          runMetrics.trials.inc({ status: 'Completed' });
          break;
        case 'TrialFailed':
          runMetrics.trials.inc({ status: 'Failed' });
          break;
        case 'TrialsRecorded':
          for (const o of e.data.outcomes) runMetrics.trials.inc({ status: o.status });
          break;
        case 'RunCompleted':
        case 'RunFailed':
        case 'RunCancelled': {
          const status = TERMINAL[e.type];
          if (!row || row.status !== status || this.ended.has(e.runId)) break;
          // attempt 0 = not a worker's attempt (e.g. the gateway cancelling a pending run): not fenced.
          if (e.attempt !== 0 && e.attempt !== row.attempt) break;
          this.remember(e.runId);
          if (e.type === 'RunCompleted') runMetrics.completed.inc({ kind });
          else if (e.type === 'RunFailed') runMetrics.failed.inc({ kind, reason: e.data.reason });
          else runMetrics.cancelled.inc({ kind });
          if (row.startedAt && row.completedAt) {
            runMetrics.duration.observe(
              { kind, status },
              Math.max(0, row.completedAt.getTime() - row.startedAt.getTime()) / 1000,
            );
          }
          break;
        }
        case 'BarProgressed':
        case 'RunProgressed':
        case 'RunCancellationRequested':
        case 'RunLogged':
          break;
        default: {
          const unexpected: never = e;
          void unexpected;
        }
      }
    }
  }

  private remember(runId: string): void {
    this.ended.add(runId);
    if (this.ended.size > this.rememberRuns) {
      const oldest = this.ended.values().next().value;
      if (oldest !== undefined) this.ended.delete(oldest);
    }
  }
}
