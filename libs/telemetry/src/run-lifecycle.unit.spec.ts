import type { RunEvent } from '@runforge/contracts';
import { metricsRegistry, runMetrics } from './registry';
import { RunLifecycleCounter, type LifecycleRow } from './run-lifecycle';

const ev = (type: string, runId: string, attempt: number, data: Record<string, unknown> = {}): RunEvent =>
  ({ type, runId, attempt, version: 1, occurredAt: '2026-01-01T00:00:00.000Z', data }) as unknown as RunEvent;

async function value(name: string, labels: Record<string, string>, sample = name): Promise<number> {
  const m = (await metricsRegistry.getSingleMetric(name)?.get())?.values ?? [];
  return m
    .filter((v) => ((v as { metricName?: string }).metricName ?? name) === sample)
    .filter((v) => Object.entries(labels).every(([k, l]) => (v.labels as Record<string, unknown>)[k] === l))
    .reduce((a, v) => a + v.value, 0);
}

describe('RunLifecycleCounter', () => {
  beforeEach(() => {
    for (const m of Object.values(runMetrics)) m.reset();
  });

  it('given a run that ended Completed on attempt 2, counts its attempts and one completion with its duration', async () => {
    const row: LifecycleRow = {
      kind: 'backtest',
      status: 'Completed',
      attempt: 2,
      startedAt: new Date('2026-01-01T00:00:00Z'),
      completedAt: new Date('2026-01-01T00:00:03Z'),
    };
    const counter = new RunLifecycleCounter();
    counter.record(
      [
        ev('RunRequested', 'r', 0, { kind: 'backtest', triggeredBy: 'api' }),
        ev('RunStarted', 'r', 1),
        ev('RunAttemptAbandoned', 'r', 2),
        ev('RunStarted', 'r', 2),
        ev('RunFailed', 'r', 1, { reason: 'error' }), // the stale attempt's outcome: ignored like the fold does
        ev('RunCompleted', 'r', 2),
      ],
      new Map([['r', row]]),
    );
    // A redelivered terminal event in a later batch is not counted again.
    counter.record([ev('RunCompleted', 'r', 2)], new Map([['r', row]]));
    expect(await value('runforge_runs_requested_total', { kind: 'backtest', triggered_by: 'api' })).toBe(1);
    expect(await value('runforge_runs_started_total', { kind: 'backtest' })).toBe(2);
    expect(await value('runforge_run_attempts_abandoned_total', { kind: 'backtest' })).toBe(1);
    expect(await value('runforge_runs_failed_total', {})).toBe(0);
    expect(await value('runforge_runs_completed_total', { kind: 'backtest' })).toBe(1);
    expect(
      await value(
        'runforge_run_duration_seconds',
        { kind: 'backtest', status: 'Completed' },
        'runforge_run_duration_seconds_sum',
      ),
    ).toBe(3);
  });

  it('counts a gateway cancellation (attempt 0) of a running run', async () => {
    const row: LifecycleRow = {
      kind: 'optimization',
      status: 'Cancelled',
      attempt: 1,
      startedAt: null,
      completedAt: null,
    };
    new RunLifecycleCounter().record([ev('RunCancelled', 'c', 0)], new Map([['c', row]]));
    expect(await value('runforge_runs_cancelled_total', { kind: 'optimization' })).toBe(1);
  });
});
