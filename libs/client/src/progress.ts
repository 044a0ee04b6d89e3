import type { RunSummary } from '@runforge/contracts';

/** What a run's progress counts, whatever its kind. */
export interface Progress {
  /** `bars` (backtest), `combinations` (optimization) or `percent` (programs, energy models). */
  unit: 'bars' | 'combinations' | 'percent';
  done: number;
  total: number;
  /** 0–100. */
  percent: number;
  /** Failed trials of an optimization (0 for other kinds). */
  failed: number;
}

type Counted = Pick<
  RunSummary,
  | 'kind'
  | 'progress'
  | 'totalBars'
  | 'processedBars'
  | 'totalCombinations'
  | 'completedCombinations'
  | 'failedCombinations'
>;

/** A run's progress in its own unit: bars of a backtest, trials of an optimization, else percent. */
export function progressOf(run: Counted): Progress {
  const percent = Math.max(0, Math.min(100, run.progress ?? 0));
  if (run.kind === 'optimization' && run.totalCombinations) {
    const failed = run.failedCombinations ?? 0;
    return {
      unit: 'combinations',
      done: (run.completedCombinations ?? 0) + failed,
      total: run.totalCombinations,
      percent,
      failed,
    };
  }
  if (run.kind === 'backtest' && run.totalBars) {
    return { unit: 'bars', done: run.processedBars ?? 0, total: run.totalBars, percent, failed: 0 };
  }
  return { unit: 'percent', done: percent, total: 100, percent, failed: 0 };
}

/**
 * A run id short enough for a list yet told apart from its neighbours: ids are time-ordered
 * (UUIDv7), so runs submitted together share their first characters; the tail is random.
 */
export function shortId(id: string, length = 8): string {
  return id.length > length + 1 ? `…${id.slice(-length)}` : id;
}
