import { xoroshiro128plus, type RandomGenerator } from 'pure-rand';
import type { Bars } from './bars';
import { detLn } from './det-math';
import { EngineError, ENGINE_ERROR_CODES } from './errors';
import { isTimeframe, MINUTES_PER_YEAR, timeframeMs, type Timeframe } from './timeframe';

export interface SyntheticSpec {
  bars: number;
  seed: number;
  timeframe: Timeframe;
  /** Default 100. */
  startPrice?: number;
  /** Annualised drift, default 0.05. */
  drift?: number;
  /** Annualised volatility, default 0.2. */
  volatility?: number;
  /** Seeded regime switches (trend / mean-revert / high-vol), default false. */
  regimes?: boolean;
  /** Epoch ms of the first bar, default 2020-01-01T00:00:00Z. */
  startTime?: number;
}

const DEFAULT_START_TIME = Date.UTC(2020, 0, 1);
const TWO_POW_26 = 67108864;
const TWO_POW_32 = 4294967296;
const TWO_POW_53 = 9007199254740992;

/** Expected regime length in bars when regimes are on. */
const REGIME_MEAN_BARS = 500;
const REGIME_NORMAL = 0;
const REGIME_TREND = 1;
const REGIME_MEAN_REVERT = 2;
const REGIME_HIGH_VOL = 3;

function invalid(field: string, reason: string): EngineError {
  return new EngineError(ENGINE_ERROR_CODES.SPEC_INVALID, `synthetic.${field} ${reason}`);
}

/** 32-bit avalanche mix (murmur3 finaliser): spreads a seed's bits over the generator state. */
function mix32(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h | 0;
}

/**
 * pure-rand's `xoroshiro128plus(seed)` only looks at the low 32 bits of the seed; mixing both
 * halves of the (safe-integer) seed into the 128-bit state keeps 2^32 and 0 distinct.
 */
function seededGenerator(seed: number): RandomGenerator {
  const lo = seed >>> 0;
  const hi = Math.floor(seed / TWO_POW_32) | 0;
  const s0 = mix32(lo ^ 0x9e3779b9);
  const s1 = mix32(hi ^ 0x7f4a7c15);
  const s2 = mix32(lo + 0x6a09e667);
  const s3 = mix32(hi + 0xbb67ae85) | 1; // never the all-zero state
  const rng = xoroshiro128plus.fromState([s0, s1, s2, s3]);
  // Discard a few outputs so nearby seeds decorrelate fully.
  for (let i = 0; i < 16; i++) rng.unsafeNext();
  return rng;
}

/** Uniform in [0, 1) with 53 random bits. */
function uniform53(rng: RandomGenerator): number {
  const a = rng.unsafeNext() >>> 5;
  const b = rng.unsafeNext() >>> 6;
  return (a * TWO_POW_26 + b) / TWO_POW_53;
}

/** Uniform in [0, 1) with 32 random bits (enough for wicks and volume). */
function uniform32(rng: RandomGenerator): number {
  return (rng.unsafeNext() >>> 0) / TWO_POW_32;
}

/**
 * Generates a geometric-random-walk OHLCV series. Bit-identical for the same spec everywhere:
 * seeded xoroshiro128+ (pure-rand) and standard normals from the Marsaglia polar method (the
 * rejection form of Box–Muller) with a log built from correctly-rounded operations only.
 */
export function generateSyntheticBars(spec: SyntheticSpec): Bars {
  const n = spec.bars;
  if (!Number.isSafeInteger(n) || n < 1) throw invalid('bars', 'must be a positive integer');
  if (!Number.isSafeInteger(spec.seed)) throw invalid('seed', 'must be a safe integer');
  if (!isTimeframe(spec.timeframe)) throw invalid('timeframe', 'must be one of 1m, 5m, 15m, 30m, 1h, 4h, 1d');
  const startPrice = spec.startPrice ?? 100;
  const drift = spec.drift ?? 0.05;
  const volatility = spec.volatility ?? 0.2;
  const startTime = spec.startTime ?? DEFAULT_START_TIME;
  if (!(startPrice > 0) || !Number.isFinite(startPrice)) throw invalid('startPrice', 'must be a finite number > 0');
  if (!Number.isFinite(drift)) throw invalid('drift', 'must be a finite number');
  if (!(volatility >= 0) || !Number.isFinite(volatility)) throw invalid('volatility', 'must be a finite number >= 0');
  if (!Number.isSafeInteger(startTime)) throw invalid('startTime', 'must be an integer epoch ms');

  const stepMs = timeframeMs(spec.timeframe);
  const dt = stepMs / 60_000 / MINUTES_PER_YEAR;
  const baseMu = drift * dt;
  const baseSigma = volatility * Math.sqrt(dt);
  const regimes = spec.regimes === true;

  const time = new Float64Array(n);
  const open = new Float64Array(n);
  const high = new Float64Array(n);
  const low = new Float64Array(n);
  const close = new Float64Array(n);
  const volume = new Float64Array(n);
  const rng = seededGenerator(spec.seed);

  let prevClose = startPrice;
  let regime = REGIME_NORMAL;
  let trendSign = 1;
  let anchor = startPrice;
  for (let i = 0; i < n; i++) {
    // Two standard normals per bar from one accepted polar pair.
    let u = 0;
    let v = 0;
    let s = 0;
    do {
      u = 2 * uniform53(rng) - 1;
      v = 2 * uniform53(rng) - 1;
      s = u * u + v * v;
    } while (s >= 1 || s === 0);
    const f = Math.sqrt((-2 * detLn(s)) / s);
    const zGap = u * f;
    const zRet = v * f;

    let mu = baseMu;
    let sigma = baseSigma;
    if (regimes) {
      if (uniform32(rng) * REGIME_MEAN_BARS < 1) {
        regime = (rng.unsafeNext() >>> 0) % 4;
        trendSign = (rng.unsafeNext() & 1) === 0 ? 1 : -1;
        anchor = prevClose;
      }
      if (regime === REGIME_TREND) mu += trendSign * 0.1 * baseSigma;
      else if (regime === REGIME_MEAN_REVERT) mu -= (0.05 * (prevClose - anchor)) / anchor;
      else if (regime === REGIME_HIGH_VOL) sigma *= 3;
    }

    // Opening gap is small relative to the bar's move, so next-open fills differ from the close.
    const o = i === 0 ? startPrice : prevClose * Math.max(0.5, 1 + 0.1 * sigma * zGap);
    const c = o * Math.max(0.1, 1 + mu + sigma * zRet);
    const top = o > c ? o : c;
    const bottom = o < c ? o : c;
    time[i] = startTime + i * stepMs;
    open[i] = o;
    close[i] = c;
    high[i] = top * (1 + uniform32(rng) * sigma * 0.5);
    low[i] = bottom * Math.max(0.5, 1 - uniform32(rng) * sigma * 0.5);
    volume[i] = Math.floor(1000 * (0.5 + uniform32(rng)) * (1 + Math.abs(zRet)));
    prevClose = c;
  }
  return { length: n, timeframe: spec.timeframe, time, open, high, low, close, volume };
}
