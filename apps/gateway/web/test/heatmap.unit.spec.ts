import type { Trial } from '../src/api';
import { heatmapGrid, twoAxes } from '../src/heatmap';

const trial = (index: number, params: Record<string, unknown>, score: number | null): Trial => ({
  trialId: `t${index}`,
  index,
  status: score === null ? 'Failed' : 'Completed',
  params,
  score,
  errorMessage: score === null ? 'boom' : null,
  durationMs: 1,
  workerId: 'w',
  occurredAt: '2026-12-06T00:00:00Z',
});

describe('the objective heatmap', () => {
  it('is drawn for exactly two axes', () => {
    expect(twoAxes({ axes: { fast: [5], slow: [20] } })).toEqual(['fast', 'slow']);
    expect(twoAxes({ axes: { fast: [5] } })).toBeUndefined();
    expect(twoAxes({})).toBeUndefined();
  });

  it('lays trials out by the axes’ values in order, shades completed ones from worst to best, keeps failed and missing apart', () => {
    const trials = [
      trial(0, { fast: 10, slow: 20 }, 2),
      trial(1, { fast: 5, slow: 20 }, 4),
      trial(2, { fast: 40, slow: 20 }, null),
      trial(3, { fast: 5, slow: 30 }, 0),
    ];
    const { xs, ys, cells } = heatmapGrid(trials, ['fast', 'slow']);
    expect(xs).toEqual([5, 10, 40]);
    expect(ys).toEqual([20, 30]);
    expect(cells.map((row) => row.map((c) => c.shade ?? (c.trial ? 'failed' : 'none')))).toEqual([
      [1, 0.5, 'failed'],
      [0, 'none', 'none'],
    ]);
  });
});
