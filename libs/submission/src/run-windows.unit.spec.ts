import { validateKey } from '@nats-io/kv/internal';
import {
  RUN_WINDOW_CLAIM_TTL_MS,
  RunWindowError,
  runWindowRefusal,
  runWindowSlots,
  type MaxRunsPerWindow,
} from './run-windows';

const AMS = 'Europe/Amsterdam';
const at = (s: string): Date => new Date(s);
const policy = (count: number, timeZone = AMS): MaxRunsPerWindow => ({ count, window: '1d', timeZone });

describe('runWindowSlots: the window containing now, and one key per slot', () => {
  it.each([
    // summer (UTC+2): the local day starts at 22:00Z the day before
    ['2026-07-15T10:00:00Z', AMS, '2026-07-14T22:00:00.000Z', '2026-07-15T22:00:00.000Z', 'dmo.2026-07-15'],
    ['2026-07-15T21:59:59.999Z', AMS, '2026-07-14T22:00:00.000Z', '2026-07-15T22:00:00.000Z', 'dmo.2026-07-15'],
    ['2026-07-15T22:00:00Z', AMS, '2026-07-15T22:00:00.000Z', '2026-07-16T22:00:00.000Z', 'dmo.2026-07-16'],
    // winter (UTC+1)
    ['2026-01-15T23:30:00Z', AMS, '2026-01-15T23:00:00.000Z', '2026-01-16T23:00:00.000Z', 'dmo.2026-01-16'],
    // DST days: 23 h in March, 25 h in October
    ['2026-03-29T12:00:00Z', AMS, '2026-03-28T23:00:00.000Z', '2026-03-29T22:00:00.000Z', 'dmo.2026-03-29'],
    ['2026-10-25T12:00:00Z', AMS, '2026-10-24T22:00:00.000Z', '2026-10-25T23:00:00.000Z', 'dmo.2026-10-25'],
    // another zone, across a year end
    ['2026-12-31T19:00:00Z', 'Asia/Kolkata', '2026-12-31T18:30:00.000Z', '2027-01-01T18:30:00.000Z', 'dmo.2027-01-01'],
    ['2026-07-15T23:59:59Z', 'UTC', '2026-07-15T00:00:00.000Z', '2026-07-16T00:00:00.000Z', 'dmo.2026-07-15'],
  ])('at %s in %s the window is [%s, %s) and its keys start %s', (now, tz, start, end, prefix) => {
    const w = runWindowSlots('dmo', policy(1, tz), at(now));
    expect(w.start.toISOString()).toBe(start);
    expect(w.end.toISOString()).toBe(end);
    expect(w.keys).toEqual([`${prefix}.0`]);
  });

  it('has count keys, slot 0 to count - 1, all valid KV keys', () => {
    const w = runWindowSlots('battery-dp_2', policy(3), at('2026-07-15T10:00:00Z'));
    expect(w.keys).toEqual(['battery-dp_2.2026-07-15.0', 'battery-dp_2.2026-07-15.1', 'battery-dp_2.2026-07-15.2']);
    for (const k of w.keys) expect(() => validateKey(k)).not.toThrow();
  });

  it.each([
    ['a kind with a dot', 'dmo.v2', policy(1), 'RUN_WINDOW_KIND_INVALID'],
    ['a kind with a wildcard', 'dmo*', policy(1), 'RUN_WINDOW_KIND_INVALID'],
    ['a kind with a space', 'dmo x', policy(1), 'RUN_WINDOW_KIND_INVALID'],
    ['an empty kind', '', policy(1), 'RUN_WINDOW_KIND_INVALID'],
    ['a count of 0', 'dmo', policy(0), 'RUN_WINDOW_POLICY_INVALID'],
    ['a fractional count', 'dmo', policy(1.5), 'RUN_WINDOW_POLICY_INVALID'],
    ['a count over the limit', 'dmo', policy(10_001), 'RUN_WINDOW_POLICY_INVALID'],
    ['an unknown time zone', 'dmo', policy(1, 'Europe/Atlantis'), 'RUN_WINDOW_POLICY_INVALID'],
  ])('refuses %s with a coded error', (_what, kind, p, code) => {
    let thrown: unknown;
    try {
      runWindowSlots(kind, p, at('2026-07-15T10:00:00Z'));
    } catch (err) {
      thrown = err;
    }
    expect(thrown).toBeInstanceOf(RunWindowError);
    expect((thrown as RunWindowError).code).toBe(code);
  });
});

describe('runWindowRefusal: says the limit, who holds the window and when the next run may start', () => {
  it.each([
    [
      policy(1),
      ['r1'],
      'at most 1 run of kind "dmo" per calendar day in Europe/Amsterdam; this day already has run r1; next allowed from 2026-07-15T22:00:00.000Z',
    ],
    [
      policy(2),
      ['r1', 'r2'],
      'at most 2 runs of kind "dmo" per calendar day in Europe/Amsterdam; this day already has runs r1, r2; next allowed from 2026-07-15T22:00:00.000Z',
    ],
  ])('%j held by %j', (p, holders, message) => {
    expect(runWindowRefusal('dmo', p, holders, at('2026-07-15T22:00:00Z'))).toBe(message);
  });
});

describe('RUN_WINDOW_CLAIM_TTL_MS', () => {
  it('outlives the longest window (a 25-hour local day), so a claim is not forgotten before its window ends', () => {
    expect(RUN_WINDOW_CLAIM_TTL_MS).toBeGreaterThan(25 * 3600 * 1000);
  });
});
