/** The grid of a two-axis optimization's heatmap, pure (the component draws it). */
import type { Trial } from './api';

type Value = string | number | boolean;

/** The two axes of an optimization's request, when it has exactly two. */
export function twoAxes(request: Record<string, unknown> | undefined): [string, string] | undefined {
  const axes = request?.axes;
  if (!axes || typeof axes !== 'object') return undefined;
  const names = Object.keys(axes);
  return names.length === 2 ? [names[0] as string, names[1] as string] : undefined;
}

/** An axis' values in order: numbers ascending, anything else as first seen. */
function valuesOf(trials: readonly Trial[], axis: string): Value[] {
  const seen = new Map<string, Value>();
  for (const t of trials) {
    const v = t.params[axis] as Value | undefined;
    if (v !== undefined) seen.set(String(v), v);
  }
  const values = [...seen.values()];
  return values.every((v) => typeof v === 'number') ? values.sort((a, b) => a - b) : values;
}

export interface HeatCell {
  trial?: Trial;
  /** 0 (worst) to 1 (best) among the completed cells, by score (higher is better whatever the direction). */
  shade?: number;
}

/** The grid of cells: rows by the second axis, columns by the first. Pure, for the unit test. */
export function heatmapGrid(
  trials: readonly Trial[],
  [x, y]: [string, string],
): { xs: Value[]; ys: Value[]; cells: HeatCell[][] } {
  const xs = valuesOf(trials, x);
  const ys = valuesOf(trials, y);
  const at = new Map<string, Trial>();
  for (const t of trials) at.set(`${String(t.params[x])}|${String(t.params[y])}`, t);
  const scores = trials.map((t) => t.score).filter((s): s is number => typeof s === 'number' && Number.isFinite(s));
  const lo = Math.min(...scores);
  const hi = Math.max(...scores);
  const cells = ys.map((yv) =>
    xs.map((xv): HeatCell => {
      const trial = at.get(`${String(xv)}|${String(yv)}`);
      if (!trial || trial.status !== 'Completed' || typeof trial.score !== 'number') return { trial };
      return { trial, shade: hi > lo ? (trial.score - lo) / (hi - lo) : 1 };
    }),
  );
  return { xs, ys, cells };
}
