import { localDate, windowBounds } from './calendar-window';

const AMS = 'Europe/Amsterdam';
const at = (s: string): Date => new Date(s);

describe('windowBounds: the calendar day in a time zone', () => {
  it('is 24 h on an ordinary day, 23 h on the March change and 25 h on the October change', () => {
    expect(windowBounds(at('2026-05-01T12:00:00Z'), AMS, '1d')).toEqual({
      start: at('2026-04-30T22:00:00Z'),
      end: at('2026-05-01T22:00:00Z'),
    });
    expect(windowBounds(at('2026-03-29T08:00:00Z'), AMS, '1d')).toEqual({
      start: at('2026-03-28T23:00:00Z'),
      end: at('2026-03-29T22:00:00Z'),
    });
    expect(windowBounds(at('2026-10-25T09:00:00Z'), AMS, '1d')).toEqual({
      start: at('2026-10-24T22:00:00Z'),
      end: at('2026-10-25T23:00:00Z'),
    });
    // The boundaries themselves: start is inside, end is outside.
    expect(windowBounds(at('2026-04-30T22:00:00Z'), AMS, '1d').start).toEqual(at('2026-04-30T22:00:00Z'));
    expect(windowBounds(at('2026-04-30T21:59:59.999Z'), AMS, '1d').end).toEqual(at('2026-04-30T22:00:00Z'));
    expect(windowBounds(at('2026-05-01T12:00:00Z'), 'Asia/Kolkata', '1d').start).toEqual(at('2026-04-30T18:30:00Z'));
  });
});

describe('localDate: the calendar date of an instant in a time zone', () => {
  it.each([
    ['2026-07-15T21:59:59.999Z', AMS, '2026-07-15'],
    ['2026-07-15T22:00:00Z', AMS, '2026-07-16'],
    ['2026-01-15T22:59:59Z', AMS, '2026-01-15'],
    ['2026-01-15T23:00:00Z', AMS, '2026-01-16'],
    ['2026-07-15T22:00:00Z', 'UTC', '2026-07-15'],
    ['2026-12-31T18:30:00Z', 'Asia/Kolkata', '2027-01-01'],
    ['2026-01-01T09:00:00Z', 'America/Los_Angeles', '2026-01-01'],
    ['2026-01-01T07:59:59Z', 'America/Los_Angeles', '2025-12-31'],
    ['0999-03-04T12:00:00Z', 'UTC', '0999-03-04'],
  ])('%s in %s is %s', (instant, tz, expected) => {
    expect(localDate(at(instant), tz)).toBe(expected);
  });

  it('is the same date for a window’s start and its last instant, across DST changes', () => {
    for (const t of ['2026-03-29T08:00:00Z', '2026-10-25T09:00:00Z', '2026-05-01T12:00:00Z']) {
      const { start, end } = windowBounds(at(t), AMS, '1d');
      expect(localDate(new Date(end.getTime() - 1), AMS)).toBe(localDate(start, AMS));
      expect(localDate(end, AMS)).not.toBe(localDate(start, AMS));
    }
  });
});
