import type { Run } from '../src/api';
import {
  acceptedRun,
  activeJobs,
  calendarDay,
  conflictInForce,
  conflictOf,
  dmoBlockOf,
  endText,
  evolveJobs,
  justEnded,
  MARKET_TIME_ZONE,
  recentJobs,
  sourceRequest,
} from '../src/energy';
import { scheduleGeometry } from '../src/components/energy/schedule-geometry';

const run = (over: Partial<Run> & Pick<Run, 'id'>): Run => ({
  ...acceptedRun(
    { id: over.id, kind: 'dmo', status: 'Pending', horizonStart: '', intervals: 96 },
    '2026-01-15T09:00:00Z',
  ),
  ...over,
});

describe('the Energy page: market days and the once-a-day DMO', () => {
  it('takes the calendar day in Europe/Amsterdam, 23 and 25 hours long across DST', () => {
    const day = (iso: string) => {
      const { start, end } = calendarDay(new Date(iso), MARKET_TIME_ZONE);
      return [start.toISOString(), end.toISOString()];
    };
    expect(day('2026-01-15T10:00:00Z')).toEqual(['2026-01-14T23:00:00.000Z', '2026-01-15T23:00:00.000Z']);
    // 23:30 UTC on the 14th is already the 15th in Amsterdam; the day's first instant belongs to it.
    expect(day('2026-01-14T23:30:00Z')).toEqual(['2026-01-14T23:00:00.000Z', '2026-01-15T23:00:00.000Z']);
    expect(day('2026-01-14T23:00:00Z')).toEqual(['2026-01-14T23:00:00.000Z', '2026-01-15T23:00:00.000Z']);
    expect(day('2026-03-29T12:00:00Z')).toEqual(['2026-03-28T23:00:00.000Z', '2026-03-29T22:00:00.000Z']);
    expect(day('2026-10-25T12:00:00Z')).toEqual(['2026-10-24T22:00:00.000Z', '2026-10-25T23:00:00.000Z']);
  });

  it('blocks DMO after any DMO requested this market day, failed ones included, until the next day starts', () => {
    const now = new Date('2026-01-15T15:00:00Z');
    const failed = run({ id: 'a', status: 'Failed', requestedAt: '2026-01-15T08:00:00Z' });
    expect(dmoBlockOf([failed], now)).toEqual({ run: failed, nextAllowedAt: '2026-01-15T23:00:00.000Z' });
    const later = run({ id: 'b', status: 'Completed', requestedAt: '2026-01-15T10:00:00Z' });
    expect(dmoBlockOf([later, failed], now)?.run?.id).toBe('b');
    const yesterday = run({ id: 'c', requestedAt: '2026-01-14T22:59:59Z' });
    const rmo = run({ id: 'd', kind: 'rmo', requestedAt: '2026-01-15T10:00:00Z' });
    expect(dmoBlockOf([yesterday, rmo], now)).toBeUndefined();
  });

  it('reads a 409 as a block that holds until its nextAllowedAt', () => {
    const body = { message: 'at most 1 run', nextAllowedAt: '2026-01-15T23:00:00.000Z', runs: ['a'] };
    const block = conflictOf('at most 1 run', body);
    expect(block).toEqual({ message: 'at most 1 run', nextAllowedAt: '2026-01-15T23:00:00.000Z' });
    expect(conflictInForce(block, new Date('2026-01-15T22:59:00Z'))).toBe(block);
    expect(conflictInForce(block, new Date('2026-01-15T23:00:00Z'))).toBeUndefined();
    expect(conflictOf('x', { message: 'no time' })).toBeUndefined();
    expect(conflictOf('x', 'text')).toBeUndefined();
  });
});

describe('the Energy page: what it knows of a data source’s jobs', () => {
  it('keeps the freshest read of a run: a list a moment behind the stream does not undo its end', () => {
    const result = { model: 'dmo', objective_value: 12.5, schedule: [] };
    let jobs = evolveJobs({}, [run({ id: 'a', status: 'Running', progress: 40 })]);
    jobs = evolveJobs(jobs, [run({ id: 'a', status: 'Completed', progress: 100, result })]);
    jobs = evolveJobs(jobs, [run({ id: 'a', status: 'Running', progress: 90 })]);
    expect(jobs['a']).toMatchObject({ status: 'Completed', progress: 100, result });
    // A list read of the ended run (no result) keeps the result the stream brought.
    const listed = run({ id: 'a', status: 'Completed', progress: 100, durationMs: 812 });
    jobs = evolveJobs(jobs, [listed]);
    expect(jobs['a']).toMatchObject({ status: 'Completed', durationMs: 812, result });
  });

  it('lists the newest five, the active ones, and the ones that just ended', () => {
    const at = (i: number) => `2026-01-15T0${i}:00:00Z`;
    const runs = [1, 2, 3, 4, 5, 6].map((i) =>
      run({ id: `r${i}`, requestedAt: at(i), status: i === 6 ? 'Running' : 'Completed', progress: 100 }),
    );
    const jobs = evolveJobs({}, runs);
    expect(recentJobs(jobs).map((r) => r.id)).toEqual(['r6', 'r5', 'r4', 'r3', 'r2']);
    expect(activeJobs(jobs).map((r) => r.id)).toEqual(['r6']);
    const before = new Map([
      ['r5', 'Running'],
      ['r4', 'Completed'],
      ['r6', 'Pending'],
    ]);
    // r5 ended since; r4 had already ended; r3 was never seen running; r6 still runs.
    expect(justEnded(before, jobs).map((r) => r.id)).toEqual(['r5']);
  });

  it('says how a job ended: the objective in euros, or the failure’s reason', () => {
    const done = run({
      id: 'a',
      status: 'Completed',
      result: { model: 'dmo', objective_value: 1822.617, schedule: [] },
    });
    expect(endText(done)).toBe('DMO completed — objective 1,822.62 €');
    expect(endText(run({ id: 'b', status: 'Completed' }))).toBe('DMO completed');
    const failed = run({ id: 'c', kind: 'so', status: 'Failed', errorMessage: 'solver status infeasible: no plan' });
    expect(endText(failed)).toBe('SO failed — solver status infeasible: no plan');
  });
});

describe('the Energy page: a new synthetic source', () => {
  it('sends the defaults as the API takes them, numbers as numbers, empty optional fields left out', () => {
    expect(sourceRequest({})).toEqual({
      name: 'Battery 10 MWh',
      synthetic: { seed: 42, days: 30, intervalMinutes: 15 },
      asset: {
        capacityMWh: 10,
        powerMW: 5,
        chargeEfficiency: 0.95,
        dischargeEfficiency: 0.95,
        socMinMWh: 1,
        socMaxMWh: 9,
        initialSocMWh: 5,
      },
    });
  });

  it('keeps what is not a number as typed, for the API to name the field', () => {
    const body = sourceRequest({ 'asset.powerMW': 'five', 'asset.finalSocMinMWh': ' 8 ', name: ' 42 ' }) as {
      name: unknown;
      asset: Record<string, unknown>;
    };
    expect(body.asset['powerMW']).toBe('five');
    expect(body.asset['finalSocMinMWh']).toBe(8);
    expect(body.name).toBe('42');
  });
});

describe('the Energy page: a plan as a chart', () => {
  const rows = [
    { t: 0, price: 40, chargeMW: 2, dischargeMW: 0, socMWh: 2.5 },
    { t: 1, price: 90, chargeMW: 0, dischargeMW: 0, socMWh: 2.5 },
    { t: 2, price: 120, chargeMW: 0, dischargeMW: 4, socMWh: 1.4 },
    { t: 3, price: 60, chargeMW: 1e-9, dischargeMW: 0, socMWh: 1.4 },
  ];
  const g = scheduleGeometry(rows);
  const zero = g.y(g.power, 0);

  it('draws one price step per interval, the highest price at the top of its band', () => {
    expect(g.pricePath.match(/H/g)).toHaveLength(4);
    expect(g.pricePath.startsWith(`M${g.x(0).toFixed(1)},${(g.price.top + g.price.height).toFixed(1)}`)).toBe(true);
    expect(g.pricePath).toContain(`V${g.price.top.toFixed(1)}H${g.x(3).toFixed(1)}`);
  });

  it('puts discharge above the zero line and charge below it, leaving out solver noise', () => {
    const bars = (d: string) => d.match(/M[^Z]*Z/g) ?? [];
    expect(bars(g.dischargePath)).toHaveLength(1);
    expect(bars(g.chargePath)).toHaveLength(1);
    const tip = (d: string) => Number(/V([\d.]+)H/.exec(d)?.[1]);
    expect(tip(g.dischargePath)).toBeLessThan(zero);
    expect(tip(g.chargePath)).toBeGreaterThan(zero);
  });

  it('marks the state of charge at each interval’s end', () => {
    expect(g.socPath.match(/[ML]/g)).toHaveLength(4);
    expect(g.socPath.startsWith(`M${g.x(1).toFixed(1)},`)).toBe(true);
    expect(g.socArea.endsWith('Z')).toBe(true);
  });
});
