import { generateSyntheticBars, sliceBars, timeframeMs, type Bars, type Timeframe } from '@runforge/engine';
import type { DatasetRef } from '@runforge/contracts';

export class DatasetError extends Error {
  constructor(
    readonly code: 'DATASET_NOT_FOUND' | 'DATASET_EMPTY_WINDOW' | 'DATASET_UNREADABLE',
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'DatasetError';
  }
}

const DEFAULT_SYNTHETIC_START = Date.UTC(2020, 0, 1);

function toMs(v: string | number | undefined): number | undefined {
  return v === undefined ? undefined : typeof v === 'number' ? v : Date.parse(v);
}

/** Number of bars a synthetic dataset has inside its window, without generating it. */
export function syntheticBarCount(ref: DatasetRef): number {
  const spec = ref.synthetic;
  if (!spec) throw new Error('not a synthetic dataset');
  const step = timeframeMs(spec.timeframe as Timeframe);
  const start = spec.startTime ?? DEFAULT_SYNTHETIC_START;
  const from = toMs(ref.from);
  const to = toMs(ref.to);
  const first = from === undefined ? 0 : Math.max(0, Math.ceil((from - start) / step));
  const last = to === undefined ? spec.bars - 1 : Math.min(spec.bars - 1, Math.floor((to - start) / step));
  return Math.max(0, last - first + 1);
}

/** Source of uploaded datasets' bars (JetStream object store; cached by checksum). */
export interface StoredBarsSource {
  load(id: string): Promise<Bars>;
}

/** Materialises the bars of a dataset reference, windowed by `from`/`to`. */
export async function loadBars(ref: DatasetRef, stored?: StoredBarsSource): Promise<Bars> {
  let bars: Bars;
  if (ref.synthetic) {
    const s = ref.synthetic;
    bars = generateSyntheticBars({
      bars: s.bars,
      seed: s.seed,
      timeframe: s.timeframe as Timeframe,
      startPrice: s.startPrice,
      drift: s.drift,
      volatility: s.volatility,
      regimes: s.regimes,
      startTime: s.startTime ?? DEFAULT_SYNTHETIC_START,
    });
  } else if (ref.id !== undefined) {
    if (!stored) throw new DatasetError('DATASET_UNREADABLE', 'uploaded datasets are not available here');
    bars = await stored.load(ref.id);
  } else {
    throw new DatasetError('DATASET_UNREADABLE', 'dataset reference has neither synthetic nor id');
  }
  const windowed = ref.from !== undefined || ref.to !== undefined ? sliceBars(bars, toMs(ref.from), toMs(ref.to)) : bars;
  if (windowed.length < 2) {
    throw new DatasetError('DATASET_EMPTY_WINDOW', `the dataset window holds ${windowed.length} bars; at least 2 are needed`);
  }
  return windowed;
}

/** Looks up uploaded datasets' bar counts (inside a window) for validation and `totalBars`. */
export interface DatasetCatalog {
  barCount(ref: DatasetRef): Promise<number | undefined>;
}
