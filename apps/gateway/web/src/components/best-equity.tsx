import { useState } from 'preact/hooks';
import { ApiError, client, type EquityPoint, type TrialSummary } from '../api';
import { EquityChart } from './equity-chart';
import { ErrorBox, RunId } from './ui';

/** The request fields a trial shares with its optimization, besides strategy, params and dataset. */
const SHARED = ['initialCapital', 'commissionBps', 'slippageBps', 'positionFraction', 'allowShort'] as const;

/** The backtest that replays a trial: same strategy, data and costs, the trial's parameters. */
export function replayRequest(
  strategy: string,
  request: Record<string, unknown>,
  params: TrialSummary['params'],
): Record<string, unknown> {
  const replay: Record<string, unknown> = { strategy, params, dataset: request.dataset };
  for (const key of SHARED) if (request[key] !== undefined) replay[key] = request[key];
  return replay;
}

type State =
  | { phase: 'idle' }
  | { phase: 'running'; id?: string }
  | { phase: 'done'; id: string; points: EquityPoint[] }
  | { phase: 'failed'; id?: string; error: ApiError };

/**
 * The best trial's equity curve. Trials keep their metrics, not their curves, so the curve comes from
 * replaying the trial as a backtest (a new run, named here): the data is seeded or uploaded, so the
 * replay gives the trial's own curve.
 */
export function BestEquity({
  strategy,
  request,
  best,
}: {
  strategy: string;
  request: Record<string, unknown>;
  best: TrialSummary;
}) {
  const [state, setState] = useState<State>({ phase: 'idle' });
  const draw = async (): Promise<void> => {
    setState({ phase: 'running' });
    let id: string | undefined;
    try {
      id = (await client.submit('backtest', replayRequest(strategy, request, best.params))).id;
      setState({ phase: 'running', id });
      const end = await client.result(id);
      const curve = (end.result as { equityCurve?: EquityPoint[] } | null)?.equityCurve;
      if (end.status !== 'Completed' || !curve)
        throw new ApiError(0, end.errorMessage ?? `the replay ended ${end.status.toLowerCase()}`);
      setState({ phase: 'done', id, points: curve });
    } catch (err) {
      setState({ phase: 'failed', id, error: err instanceof ApiError ? err : new ApiError(0, String(err)) });
    }
  };
  return (
    <div data-testid="best-equity">
      {state.phase === 'idle' && (
        <p>
          <button type="button" onClick={() => void draw()}>
            Draw the best trial&rsquo;s equity curve
          </button>{' '}
          <span class="hint">replays it as a backtest (a new run) on the same data</span>
        </p>
      )}
      {state.phase === 'running' && (
        <p class="hint" aria-busy="true">
          Replaying the best trial
          {state.id ? (
            <>
              {' '}
              as <RunId id={state.id} />
            </>
          ) : null}
          …
        </p>
      )}
      {state.phase === 'failed' && <ErrorBox error={state.error} retry={() => void draw()} />}
      {state.phase === 'done' && (
        <>
          <p class="hint">
            Replayed as backtest <RunId id={state.id} />
          </p>
          <EquityChart points={state.points} />
        </>
      )}
    </div>
  );
}
