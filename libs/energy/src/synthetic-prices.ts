import { xoroshiro128plus, type RandomGenerator } from 'pure-rand';
import { z } from 'zod';
import { EnergyInputError } from './errors';
import { INTERVAL_MINUTES, MAX_INTERVALS, parseWith, type PriceSeries } from './schemas';

export const SyntheticPriceSpecSchema = z
  .object({
    seed: z
      .number()
      .int()
      .min(0)
      .max(2 ** 32 - 1),
    start: z.iso.datetime({ offset: true, error: 'must be an ISO-8601 instant with an offset' }),
    intervalMinutes: z.union(
      INTERVAL_MINUTES.map((m) => z.literal(m)),
      {
        error: `must be one of ${INTERVAL_MINUTES.join(', ')}`,
      },
    ),
    intervals: z.number().int().min(1).max(MAX_INTERVALS),
    /** Hours per day around midday (UTC) with negative prices; default 2. */
    negativeHours: z.number().int().min(0).max(12).default(2),
  })
  .strict();
export type SyntheticPriceSpec = z.input<typeof SyntheticPriceSpecSchema>;

/**
 * Day-ahead €/MWh by UTC hour: low at night, a morning peak at 08:00, a solar dip at midday and
 * the evening peak at 18:00 (roughly a Central European winter-spring day).
 */
const HOURLY_SHAPE = [
  62, 58, 55, 53, 54, 60, 75, 95, 105, 98, 85, 72, 62, 58, 60, 68, 82, 105, 125, 118, 100, 88, 78, 70,
] as const;
const DAY_MS = 86_400_000;
const HOUR_MS = 3_600_000;
const TWO_POW_32 = 4294967296;
const SQRT3 = Math.sqrt(3);
const DAY_AHEAD_NOISE = 6;
const INTRADAY_NOISE = 8;

function uniform(rng: RandomGenerator): number {
  return (rng.unsafeNext() >>> 0) / TWO_POW_32;
}

/**
 * Approximately standard normal: the Irwin–Hall sum of four uniforms, rescaled. Only additions and
 * multiplications, so the series is bit-identical on every platform (no log or cos).
 */
function normal(rng: RandomGenerator): number {
  return (uniform(rng) + uniform(rng) + uniform(rng) + uniform(rng) - 2) * SQRT3;
}

function cents(x: number): number {
  return Math.round(x * 100) / 100 + 0; // + 0 turns a rounded −0 into 0
}

/**
 * A seeded synthetic price series: the daily shape above scaled by a per-day level, with noise,
 * `negativeHours` consecutive hours of negative prices around midday each day, and intraday prices
 * scattered around the day-ahead ones. The same spec gives the same series everywhere; every
 * interval draws the same number of values, so `negativeHours` changes no other interval's noise.
 */
export function syntheticPrices(specInput: SyntheticPriceSpec): PriceSeries {
  const parsed = parseWith(SyntheticPriceSpecSchema, specInput, 'synthetic');
  if (!parsed.ok) throw new EnergyInputError(parsed.issues);
  const spec = parsed.value;
  const startMs = Date.parse(spec.start);
  const stepMs = spec.intervalMinutes * 60_000;
  const rng = xoroshiro128plus(spec.seed);

  const dayAhead = new Array<number>(spec.intervals);
  const intraday = new Array<number>(spec.intervals);
  let day = NaN;
  let level = 1;
  let negativeFrom = 0;
  let depth = 0;
  for (let i = 0; i < spec.intervals; i++) {
    const ms = startMs + i * stepMs;
    const msOfDay = ((ms % DAY_MS) + DAY_MS) % DAY_MS;
    if (Math.floor(ms / DAY_MS) !== day) {
      day = Math.floor(ms / DAY_MS);
      level = 0.9 + 0.2 * uniform(rng);
      const shift = Math.floor(uniform(rng) * 3) - 1;
      negativeFrom = Math.min(24 - spec.negativeHours, Math.max(0, 13 - Math.floor(spec.negativeHours / 2) + shift));
      depth = 5 + 35 * uniform(rng);
    }
    const hour = msOfDay / HOUR_MS;
    const h = Math.floor(hour);
    const from = HOURLY_SHAPE[h] as number;
    const to = HOURLY_SHAPE[(h + 1) % 24] as number;
    const shape = from + (to - from) * (hour - h);
    const jitter = uniform(rng);
    let price = shape * level + DAY_AHEAD_NOISE * normal(rng);
    if (spec.negativeHours > 0 && h >= negativeFrom && h < negativeFrom + spec.negativeHours)
      price = -depth * (0.5 + jitter);
    dayAhead[i] = cents(price);
    intraday[i] = cents(price + INTRADAY_NOISE * normal(rng));
  }
  return { start: new Date(startMs).toISOString(), intervalMinutes: spec.intervalMinutes, dayAhead, intraday };
}
