export type Timeframe = '1m' | '5m' | '15m' | '30m' | '1h' | '4h' | '1d';

const MINUTES: Readonly<Record<Timeframe, number>> = {
  '1m': 1,
  '5m': 5,
  '15m': 15,
  '30m': 30,
  '1h': 60,
  '4h': 240,
  '1d': 1440,
};

export const TIMEFRAMES: readonly Timeframe[] = Object.freeze(['1m', '5m', '15m', '30m', '1h', '4h', '1d'] as const);

const MS_PER_MINUTE = 60_000;
/** Minutes in a 365-day year: the 24/7 (crypto-style) calendar used for every annualisation. */
export const MINUTES_PER_YEAR = 365 * 24 * 60;
export const MS_PER_YEAR = MINUTES_PER_YEAR * MS_PER_MINUTE;

export function isTimeframe(value: unknown): value is Timeframe {
  return typeof value === 'string' && Object.prototype.hasOwnProperty.call(MINUTES, value);
}

export function timeframeMs(tf: Timeframe): number {
  return MINUTES[tf] * MS_PER_MINUTE;
}

/** Bars in a year on a 24/7 calendar, e.g. 525 600 for 1m and 365 for 1d. */
export function barsPerYear(tf: Timeframe): number {
  return MINUTES_PER_YEAR / MINUTES[tf];
}

/** The timeframe whose bar length is exactly `ms`, if any. */
export function timeframeFromMs(ms: number): Timeframe | undefined {
  for (const tf of TIMEFRAMES) if (timeframeMs(tf) === ms) return tf;
  return undefined;
}
