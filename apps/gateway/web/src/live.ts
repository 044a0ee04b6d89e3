import { useEffect, useRef, useState } from 'preact/hooks';
import type { BacktestStatus, OptimizationStatus } from '@runforge/contracts';
import { ApiError, get, statusUrl, TERMINAL, type Run } from './api';
import { notifyTerminal } from './toasts';
import { EventStream } from './event-stream';

/** Polling intervals while the live stream is down (as the first dashboard did). */
/** How often a run is polled when its live stream is down: an optimization's status is heavier to read. */
export const POLL_MS: Readonly<Record<string, number>> = { backtest: 5_000, optimization: 30_000 };
const DEFAULT_POLL_MS = 5_000;
/** How long to wait before trying the stream again after it dropped. */
const RESTREAM_MS = 10_000;

export type LiveMode = 'connecting' | 'live' | 'polling' | 'done';

export interface LiveRun {
  run?: Run;
  error?: ApiError;
  mode: LiveMode;
}

/**
 * Merges what a status endpoint answers (a subset of the run) into the run we know. The fields that
 * come and go with the run's pace (no ETA while stalled…) are taken from the answer alone.
 */
function mergeStatus(prev: Run, s: BacktestStatus | OptimizationStatus): Run {
  const {
    etaSeconds: _eta,
    trialsPerSecond: _rate,
    lastProgressAt: _last,
    secondsSinceProgress: _since,
    stalled: _stalled,
    stallAfterSeconds: _after,
    ...kept
  } = prev;
  return { ...kept, ...s };
}

/**
 * A run kept current: Server-Sent Events from `/api/runs/{id}/stream` (a snapshot on connect and on
 * every change, closed when terminal). If the stream drops, the status endpoint of the run's kind
 * is polled (backtests every 5 s, optimizations every 30 s) and the stream is tried again.
 */
export function useLiveRun(
  id: string,
  /** Called once when the run is seen ending (default: the generic toast); read when the run ends. */
  onEnd: (run: Run) => void = notifyTerminal,
): LiveRun {
  const [state, setState] = useState<LiveRun>({ mode: 'connecting' });
  const runRef = useRef<Run | undefined>(undefined);
  const onEndRef = useRef(onEnd);
  onEndRef.current = onEnd;

  useEffect(() => {
    let disposed = false;
    let source: EventStream | undefined;
    let pollTimer: number | undefined;
    let restreamTimer: number | undefined;
    runRef.current = undefined;
    setState({ mode: 'connecting' });

    const update = (run: Run, mode: LiveMode): void => {
      const before = runRef.current;
      runRef.current = run;
      if (before && !TERMINAL.has(before.status) && TERMINAL.has(run.status)) onEndRef.current(run);
      setState({ run, mode: TERMINAL.has(run.status) ? 'done' : mode });
    };

    const stopPolling = (): void => {
      if (pollTimer !== undefined) clearTimeout(pollTimer);
      if (restreamTimer !== undefined) clearTimeout(restreamTimer);
      pollTimer = restreamTimer = undefined;
    };

    const poll = async (): Promise<void> => {
      pollTimer = undefined;
      const known = runRef.current;
      try {
        const next = known
          ? mergeStatus(known, await get<BacktestStatus | OptimizationStatus>(statusUrl(id)))
          : await get<Run>(`/api/runs/${id}`);
        if (disposed) return;
        update(next, 'polling');
        if (TERMINAL.has(next.status)) return stopPolling();
      } catch (err) {
        if (disposed) return;
        if (err instanceof ApiError && err.status === 404 && !known) {
          stopPolling();
          return setState({ mode: 'done', error: err });
        }
      }
      pollTimer = window.setTimeout(() => void poll(), POLL_MS[runRef.current?.kind ?? ''] ?? DEFAULT_POLL_MS);
    };

    const connect = (): void => {
      if (disposed) return;
      stopPolling();
      source = new EventStream(`/api/runs/${id}/stream`);
      source.addEventListener('snapshot', (e) => {
        update(JSON.parse(e.data) as Run, 'live');
      });
      source.addEventListener('end', () => {
        source?.close();
        source = undefined;
      });
      source.onerror = () => {
        // The browser would retry on its own; we take over: poll now, try the stream again later.
        source?.close();
        source = undefined;
        if (disposed || (runRef.current && TERMINAL.has(runRef.current.status))) return;
        setState((s) => ({ ...s, mode: 'polling' }));
        void poll();
        restreamTimer = window.setTimeout(connect, RESTREAM_MS);
      };
    };

    connect();
    return () => {
      disposed = true;
      source?.close();
      stopPolling();
    };
  }, [id]);

  return state;
}
