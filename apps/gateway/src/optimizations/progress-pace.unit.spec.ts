import { createEvent, evolveRun, OptimizationRequestSchema, type RunEvent, type RunView } from '@runforge/contracts';
import { progressPace, STALL_FACTOR, STALL_FLOOR_SECONDS, type PaceState } from './progress-pace';

const START = Date.parse('2026-03-01T10:00:00.000Z');
const at = (seconds: number): number => START + seconds * 1000;
const meta = (seconds: number) => ({ runId: 'r1', attempt: 1, occurredAt: new Date(at(seconds)).toISOString() });

/**
 * A running optimization whose trial outcomes arrived at these offsets (seconds after its start),
 * folded by the read model's own `evolveRun`, as the gateway reads it from the runs row.
 */
function arrivals(...offsets: number[]): RunView {
  const request = OptimizationRequestSchema.parse({
    strategy: 'sma-crossover',
    axes: { fast: { min: 1, max: 100, step: 1 }, slow: [200] },
    dataset: { synthetic: { bars: 1000, seed: 1, timeframe: '1h' } },
  });
  const events: RunEvent[] = [
    createEvent(
      'RunRequested',
      { ...meta(-1), attempt: 0 },
      { kind: 'optimization', request, totalBars: 1000, totalCombinations: 100, triggeredBy: 'api' },
    ),
    createEvent('RunStarted', meta(0), { workerId: 'w', totalBars: 1000 }),
    ...offsets.map((s, i) =>
      createEvent('TrialsRecorded', meta(s), {
        outcomes: [
          {
            status: 'Completed',
            trialId: `t${i}`,
            index: i,
            params: { fast: i + 1, slow: 200 },
            metrics: {},
            score: 0,
            durationMs: 1,
            workerId: 'w',
          },
        ],
      }),
    ),
  ];
  const view = events.reduce<RunView | undefined>((v, e, i) => evolveRun(v, e, { seq: i + 1 }), undefined);
  if (!view) throw new Error('the fold gave no run');
  return view;
}
const running = arrivals();

describe('whether a running optimization is stalled (its own pace against an injected clock)', () => {
  it('given outcomes every half second, when none arrives for longer than the floor, then it is stalled', () => {
    const brisk = arrivals(0.5, 1, 1.5, 2);
    expect(brisk.lastProgressAt).toBe('2026-03-01T10:00:02.000Z');
    expect(progressPace(brisk, at(2 + STALL_FLOOR_SECONDS))).toEqual({
      secondsSinceProgress: STALL_FLOOR_SECONDS,
      stalled: false,
      stallAfterSeconds: STALL_FLOOR_SECONDS,
    });
    expect(progressPace(brisk, at(2 + STALL_FLOOR_SECONDS + 0.001))?.stalled).toBe(true);
    // 1 min 20 s later: still stalled, and it says for how long.
    expect(progressPace(brisk, at(82))).toMatchObject({ secondsSinceProgress: 80, stalled: true });
  });

  it('given trials that each take a minute, when 50 s pass without an outcome, then it is not stalled', () => {
    const slow = arrivals(60, 120, 180);
    const pace = progressPace(slow, at(230));
    expect(pace).toMatchObject({ secondsSinceProgress: 50, stalled: false, stallAfterSeconds: STALL_FACTOR * 60 });
    expect(progressPace(slow, at(180 + STALL_FACTOR * 60 + 1))?.stalled).toBe(true);
  });

  it('counts the wait for the first outcome (start-up, a first long trial) as part of the pace', () => {
    const lateFirst = arrivals(40, 40.5, 41);
    expect(progressPace(lateFirst, at(100))).toMatchObject({ stalled: false, stallAfterSeconds: 120 });
  });

  it('keeps the longest wait seen: a run that once paused for 20 s is not flagged at the next 30 s pause', () => {
    const paused = arrivals(1, 2, 22, 23);
    expect(progressPace(paused, at(53))).toMatchObject({
      secondsSinceProgress: 30,
      stalled: false,
      stallAfterSeconds: 60,
    });
  });

  it('never flags a run before its first outcome: there is no pace to compare with yet', () => {
    expect(progressPace(running, at(3_600))).toEqual({ secondsSinceProgress: 3_600, stalled: false });
  });

  it('has no pace for a Pending run (queued for a worker), nor for an ended one', () => {
    for (const status of ['Pending', 'Completed', 'Failed', 'Cancelled'] as const) {
      expect(
        progressPace(
          { ...arrivals(1), status, ...(status === 'Pending' ? { startedAt: null } : {}) } satisfies PaceState,
          at(999),
        ),
      ).toBeUndefined();
    }
  });

  it('tolerates worker clocks a little ahead of the gateway (no negative waits or durations)', () => {
    const ahead = arrivals(-2, 5);
    expect(progressPace(ahead, at(4))).toMatchObject({
      secondsSinceProgress: 0,
      stalled: false,
      stallAfterSeconds: 21,
    });
  });
});
