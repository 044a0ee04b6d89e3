import { useEffect, useState } from 'preact/hooks';
import { formatMetric, metricLabel } from '@runforge/client';
import { ApiError, client, type Objective, type Trial } from '../api';
import { heatmapGrid } from '../heatmap';
import { Empty, ErrorBox, Loading } from './ui';

/** More cells than this would not be readable as a grid. */
const MAX_CELLS = 2_500;
/** Trials read for the grid, at most (pages of 1,000). */
const MAX_TRIALS = 10_000;

/** Red (worst) through yellow to green (best). */
function colour(shade: number): string {
  return `hsl(${Math.round(shade * 120)}, 65%, ${Math.round(42 + 8 * (1 - Math.abs(shade - 0.5) * 2))}%)`;
}

/**
 * An optimization over two axes as a heatmap of its objective: one cell per combination, coloured
 * from worst to best, failed trials marked ×, combinations not (yet) run left blank.
 */
export function ObjectiveHeatmap({
  runId,
  axes,
  objective,
  version,
}: {
  runId: string;
  axes: [string, string];
  objective?: Objective;
  version: number;
}) {
  const [trials, setTrials] = useState<Trial[] | undefined>(undefined);
  const [error, setError] = useState<ApiError | undefined>(undefined);

  useEffect(() => {
    let stale = false;
    void (async () => {
      try {
        const all: Trial[] = [];
        let cursor: string | undefined;
        do {
          const page = await client.trials(runId, { limit: 1000, cursor });
          all.push(...page.items);
          cursor = page.nextCursor ?? undefined;
        } while (cursor && all.length < MAX_TRIALS);
        if (!stale) {
          setTrials(all);
          setError(undefined);
        }
      } catch (err) {
        if (!stale) setError(err instanceof ApiError ? err : new ApiError(0, String(err)));
      }
    })();
    return () => {
      stale = true;
    };
  }, [runId, version]);

  if (error) return <ErrorBox error={error} />;
  if (!trials) return <Loading what="trials" />;
  if (trials.length === 0) return <Empty>No trial has finished yet.</Empty>;
  const { xs, ys, cells } = heatmapGrid(trials, axes);
  if (xs.length * ys.length > MAX_CELLS)
    return (
      <Empty>{`${xs.length} × ${ys.length} combinations: too many cells for a heatmap; see the trials below.`}</Empty>
    );
  const metric = objective?.metric;
  const valueOf = (t: Trial): string =>
    metric && typeof t.metrics?.[metric] === 'number' ? formatMetric(metric, t.metrics[metric]) : String(t.score);
  return (
    <div class="heatmap-wrap">
      <p class="hint">
        {metric ? `${metricLabel(metric)} (${objective?.direction})` : 'Score'} by {axes[0]} (across) and {axes[1]}{' '}
        (down): <span class="swatch" style={{ background: colour(0) }} /> worst{' '}
        <span class="swatch" style={{ background: colour(1) }} /> best, <span class="cell-failed-key">×</span> failed
      </p>
      <div class="table-wrap">
        <table class="heatmap" data-testid="heatmap" aria-label={`heatmap of ${metric ?? 'score'}`}>
          <thead>
            <tr>
              <th scope="col">
                {axes[1]} \ {axes[0]}
              </th>
              {xs.map((x) => (
                <th key={String(x)} scope="col">
                  {String(x)}
                </th>
              ))}
            </tr>
          </thead>
          <tbody>
            {cells.map((row, i) => (
              <tr key={String(ys[i])}>
                <th scope="row">{String(ys[i])}</th>
                {row.map((cell, j) => {
                  const t = cell.trial;
                  const where = `${axes[0]}=${String(xs[j])}, ${axes[1]}=${String(ys[i])}`;
                  if (!t)
                    return (
                      <td
                        key={j}
                        class="cell-none"
                        title={`${where}: not run`}
                        data-testid="heatmap-cell"
                        data-status="none"
                      />
                    );
                  if (t.status === 'Failed')
                    return (
                      <td
                        key={j}
                        class="cell-failed"
                        title={`${where}: failed: ${t.errorMessage ?? ''}`}
                        data-testid="heatmap-cell"
                        data-status="Failed"
                      >
                        ×
                      </td>
                    );
                  return (
                    <td
                      key={j}
                      style={{ background: colour(cell.shade ?? 0) }}
                      title={`${where}: ${valueOf(t)}`}
                      data-testid="heatmap-cell"
                      data-status="Completed"
                    >
                      {valueOf(t)}
                    </td>
                  );
                })}
              </tr>
            ))}
          </tbody>
        </table>
      </div>
    </div>
  );
}
