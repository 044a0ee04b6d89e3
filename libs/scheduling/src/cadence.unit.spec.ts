import {
  cronProblem,
  FIRE_LATENESS_TOLERANCE_MS,
  nextFireTimes,
  planFires,
  scheduledMessageId,
  scheduledRunId,
  timezoneProblem,
  type Cadence,
} from './cadence';

const AMS = 'Europe/Amsterdam';
const iso = (ds: readonly Date[]): string[] => ds.map((d) => d.toISOString());
const at = (s: string): Date => new Date(s);

/** Drives planFires like the service does: a tick every `stepMs`, the cursor advanced as decided. */
function simulate(cadence: Cadence, from: Date, to: Date, stepMs: number): { started: string[]; missed: string[] } {
  let cursor = from;
  const started: string[] = [];
  const missed: string[] = [];
  for (let t = from.getTime() + stepMs; t <= to.getTime(); t += stepMs) {
    const plan = planFires(cadence, cursor, new Date(t));
    for (const f of plan.fires) (f.action === 'start' ? started : missed).push(f.fireTime.toISOString());
    if (plan.evaluatedUntil) cursor = plan.evaluatedUntil;
  }
  return { started, missed };
}

describe('cadence: fire times in a time zone, across DST (Europe/Amsterdam, 2026)', () => {
  it('a daily 10:00 fires at 10:00 local on both sides of the March change (09:00Z → 08:00Z)', () => {
    const times = nextFireTimes({ cron: '0 10 * * *', timezone: AMS }, at('2026-03-27T12:00:00Z'), 4);
    expect(iso(times)).toEqual([
      '2026-03-28T09:00:00.000Z', // CET
      '2026-03-29T08:00:00.000Z', // CEST from Sunday 29 March
      '2026-03-30T08:00:00.000Z',
      '2026-03-31T08:00:00.000Z',
    ]);
  });

  it('a daily 10:00 fires at 10:00 local on both sides of the October change (08:00Z → 09:00Z)', () => {
    const times = nextFireTimes({ cron: '0 10 * * *', timezone: AMS }, at('2026-10-23T12:00:00Z'), 3);
    expect(iso(times)).toEqual(['2026-10-24T08:00:00.000Z', '2026-10-25T09:00:00.000Z', '2026-10-26T09:00:00.000Z']);
  });

  it('a fixed time inside the spring gap (02:30) runs once, right after the gap; inside the autumn overlap, once', () => {
    const spring = nextFireTimes({ cron: '30 2 * * *', timezone: AMS }, at('2026-03-28T12:00:00Z'), 2);
    expect(iso(spring)).toEqual(['2026-03-29T01:00:00.000Z' /* 03:00 CEST */, '2026-03-30T00:30:00.000Z']);
    const autumn = nextFireTimes({ cron: '30 2 * * *', timezone: AMS }, at('2026-10-24T12:00:00Z'), 2);
    expect(iso(autumn)).toEqual(['2026-10-25T00:30:00.000Z' /* first 02:30 */, '2026-10-26T01:30:00.000Z']);
  });

  it('every 30 minutes stays every 30 real minutes: 46 fires on the 23-hour day, 50 on the 25-hour day', () => {
    const count = (dayStart: string, dayEnd: string): number[] => {
      const times = nextFireTimes(
        { cron: '*/30 * * * *', timezone: AMS },
        new Date(at(dayStart).getTime() - 1),
        60,
      ).filter((d) => d < at(dayEnd));
      return [times.length, ...new Set(times.slice(1).map((d, i) => d.getTime() - (times[i] as Date).getTime()))];
    };
    expect(count('2026-03-28T23:00:00Z', '2026-03-29T22:00:00Z')).toEqual([46, 30 * 60_000]);
    expect(count('2026-10-24T22:00:00Z', '2026-10-25T23:00:00Z')).toEqual([50, 30 * 60_000]);
  });

  it('a 6-field expression fires on seconds; 5 and 6 fields are accepted, others rejected with a reason', () => {
    expect(iso(nextFireTimes({ cron: '*/15 * * * * *', timezone: 'UTC' }, at('2026-01-01T00:00:00Z'), 2))).toEqual([
      '2026-01-01T00:00:15.000Z',
      '2026-01-01T00:00:30.000Z',
    ]);
    expect(cronProblem('0 10 * * *')).toBeUndefined();
    expect(cronProblem('0 0 10 * * *')).toBeUndefined();
    expect(cronProblem('0 10 * *')).toMatch(/five, six, or seven|5 or 6/);
    expect(cronProblem('61 * * * *')).toMatch(/minute/);
    expect(cronProblem('* * * * * * *')).toMatch(/5 or 6 parts/);
    expect(timezoneProblem(AMS)).toBeUndefined();
    expect(timezoneProblem('Mars/Olympus_Mons')).toBe('unknown IANA time zone "Mars/Olympus_Mons"');
  });
});

describe('planFires: due fires from the cursor and the injected clock', () => {
  const daily: Cadence = { cron: '0 10 * * *', timezone: AMS, catchupWindowSeconds: 0 };

  it('ticking through the March DST weekend starts each 10:00 exactly once, at the right instant', () => {
    const { started, missed } = simulate(daily, at('2026-03-27T00:00:00Z'), at('2026-03-31T00:00:00Z'), 15_000);
    expect(started).toEqual([
      '2026-03-27T09:00:00.000Z',
      '2026-03-28T09:00:00.000Z',
      '2026-03-29T08:00:00.000Z',
      '2026-03-30T08:00:00.000Z',
    ]);
    expect(missed).toEqual([]);
  });

  it('ticking an hourly cadence through the October night fires at both 02:00s (an interval job)', () => {
    const hourly: Cadence = { cron: '0 * * * *', timezone: AMS, catchupWindowSeconds: 0 };
    const { started } = simulate(hourly, at('2026-10-24T23:30:00Z'), at('2026-10-25T02:30:00Z'), 20_000);
    expect(started).toEqual(['2026-10-25T00:00:00.000Z', '2026-10-25T01:00:00.000Z', '2026-10-25T02:00:00.000Z']);
  });

  it('nothing is due before the next fire time; a late tick within the tolerance still starts it', () => {
    expect(planFires(daily, at('2026-05-01T07:00:00Z'), at('2026-05-01T07:59:59Z')).fires).toEqual([]);
    const late = planFires(
      daily,
      at('2026-05-01T07:00:00Z'),
      new Date(at('2026-05-01T08:00:00Z').getTime() + FIRE_LATENESS_TOLERANCE_MS),
    );
    expect(late.fires).toEqual([{ fireTime: at('2026-05-01T08:00:00Z'), action: 'start' }]);
  });

  it('after an outage, only the newest missed fire within the catch-up window runs — once — and the rest are missed with a reason', () => {
    const every30: Cadence = { cron: '*/30 * * * *', timezone: AMS, catchupWindowSeconds: 3600 };
    // Down from 06:10Z to 09:10Z: fires 06:30 … 09:00 were missed.
    const plan = planFires(every30, at('2026-05-01T06:10:00Z'), at('2026-05-01T09:10:00Z'));
    expect(plan.fires.map((f) => [f.fireTime.toISOString().slice(11, 16), f.action])).toEqual([
      ['06:30', 'missed'],
      ['07:00', 'missed'],
      ['07:30', 'missed'],
      ['08:00', 'missed'],
      ['08:30', 'missed'],
      ['09:00', 'start'],
    ]);
    expect(plan.evaluatedUntil).toEqual(at('2026-05-01T09:00:00Z'));
    const reasons = plan.fires.filter((f) => f.action === 'missed').map((f) => ('reason' in f ? f.reason : ''));
    expect(reasons[0]).toMatch(/scheduler was not running .* older than the catch-up window \(3600 s\)/);
    expect(reasons[4]).toMatch(
      /a later fire \(2026-05-01T09:00:00.000Z\) was also due, and a catch-up runs at most once/,
    );
    // The next tick has nothing left to catch up.
    expect(planFires(every30, plan.evaluatedUntil as Date, at('2026-05-01T09:10:01Z')).fires).toEqual([]);
  });

  it('a missed fire older than the catch-up window does not run at all', () => {
    const withCatchup: Cadence = { ...daily, catchupWindowSeconds: 1800 };
    const plan = planFires(withCatchup, at('2026-05-01T07:00:00Z'), at('2026-05-01T09:00:00Z'));
    expect(plan.fires).toEqual([expect.objectContaining({ fireTime: at('2026-05-01T08:00:00Z'), action: 'missed' })]);
  });

  it('a very long outage of a fast cadence is bounded: recent misses are listed, the older ones counted', () => {
    const perMinute: Cadence = { cron: '* * * * *', timezone: 'UTC', catchupWindowSeconds: 0 };
    const plan = planFires(perMinute, at('2026-05-01T00:00:00Z'), at('2026-05-08T00:00:30Z'));
    expect(plan.fires.length).toBeLessThanOrEqual(51);
    expect(plan.fires.at(-1)).toEqual({ fireTime: at('2026-05-08T00:00:00Z'), action: 'start' });
    expect(plan.fires[0]).toEqual(
      expect.objectContaining({
        action: 'missed',
        reason: expect.stringMatching(/earlier missed fires are not listed/),
      }),
    );
  });
});

describe('deterministic identities of a fire', () => {
  it('derive the same run id and message id for the same schedule and fire time, and differ otherwise', () => {
    const t = at('2026-05-01T08:00:00Z');
    expect(scheduledRunId('s1', t)).toBe(scheduledRunId('s1', new Date(t.getTime())));
    expect(scheduledRunId('s1', t)).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(scheduledRunId('s1', t)).not.toBe(scheduledRunId('s2', t));
    expect(scheduledRunId('s1', t)).not.toBe(scheduledRunId('s1', at('2026-05-01T08:30:00Z')));
    expect(scheduledMessageId('s1', t)).toBe('schedule:s1:2026-05-01T08:00:00.000Z');
  });
});
