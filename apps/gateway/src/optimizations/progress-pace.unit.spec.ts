import { progressPace, STALL_FACTOR, STALL_FLOOR_SECONDS, type OutcomeArrivals } from './progress-pace';

const START = Date.parse('2026-03-01T10:00:00.000Z');
const at = (seconds: number): number => START + seconds * 1000;
const running = { status: 'Running' as const, startedAt: new Date(START).toISOString() };

/** Outcomes that arrived at these offsets (seconds after the start), as the trials table gives them. */
function arrivals(...offsets: number[]): OutcomeArrivals {
  const times = offsets.map(at);
  const gaps = times.slice(1).map((t, i) => t - (times[i] ?? t));
  return { firstAt: times[0] ?? START, lastAt: times[times.length - 1] ?? START, longestGapMs: Math.max(0, ...gaps) };
}

describe('whether a running optimization is stalled (its own pace against an injected clock)', () => {
  it('given outcomes every half second, when none arrives for longer than the floor, then it is stalled', () => {
    const brisk = arrivals(0.5, 1, 1.5, 2);
    expect(progressPace(running, brisk, at(2 + STALL_FLOOR_SECONDS))).toEqual({
      lastProgressAt: '2026-03-01T10:00:02.000Z',
      secondsSinceProgress: STALL_FLOOR_SECONDS,
      stalled: false,
      stallAfterSeconds: STALL_FLOOR_SECONDS,
    });
    expect(progressPace(running, brisk, at(2 + STALL_FLOOR_SECONDS + 0.001))?.stalled).toBe(true);
    // 1 min 20 s later: still stalled, and it says for how long.
    expect(progressPace(running, brisk, at(82))).toMatchObject({ secondsSinceProgress: 80, stalled: true });
  });

  it('given trials that each take a minute, when 50 s pass without an outcome, then it is not stalled', () => {
    const slow = arrivals(60, 120, 180);
    const pace = progressPace(running, slow, at(230));
    expect(pace).toMatchObject({ secondsSinceProgress: 50, stalled: false, stallAfterSeconds: STALL_FACTOR * 60 });
    expect(progressPace(running, slow, at(180 + STALL_FACTOR * 60 + 1))?.stalled).toBe(true);
  });

  it('counts the wait for the first outcome (start-up, a first long trial) as part of the pace', () => {
    const lateFirst = arrivals(40, 40.5, 41);
    expect(progressPace(running, lateFirst, at(100))).toMatchObject({ stalled: false, stallAfterSeconds: 120 });
  });

  it('keeps the longest wait seen: a run that once paused for 20 s is not flagged at the next 30 s pause', () => {
    const paused = arrivals(1, 2, 22, 23);
    expect(progressPace(running, paused, at(53))).toMatchObject({
      secondsSinceProgress: 30,
      stalled: false,
      stallAfterSeconds: 60,
    });
  });

  it('never flags a run before its first outcome: there is no pace to compare with yet', () => {
    expect(progressPace(running, undefined, at(3_600))).toEqual({ secondsSinceProgress: 3_600, stalled: false });
  });

  it('has no pace for a Pending run (queued for a worker), nor for an ended one', () => {
    for (const status of ['Pending', 'Completed', 'Failed', 'Cancelled'] as const) {
      expect(
        progressPace({ status, startedAt: status === 'Pending' ? null : running.startedAt }, arrivals(1), at(999)),
      ).toBeUndefined();
    }
  });

  it('tolerates worker clocks a little ahead of the gateway (no negative waits or durations)', () => {
    const ahead = arrivals(-2, 5);
    expect(progressPace(running, ahead, at(4))).toMatchObject({
      secondsSinceProgress: 0,
      stalled: false,
      stallAfterSeconds: 21,
    });
  });
});
