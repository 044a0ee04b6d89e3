import { useEffect, useState } from 'preact/hooks';
import { ApiError, get, query, type LogLine, type Page } from '../api';
import { Empty, ErrorBox, Loading } from './ui';

const LEVELS = ['DEBUG', 'INFO', 'WARNING', 'ERROR'];
const PAGE = 200;

/** A run's log lines (oldest first) at a minimum level; `version` refetches as the run moves on. */
export function LogsViewer({ runId, version }: { runId: string; version: number }) {
  const [level, setLevel] = useState('INFO');
  const [lines, setLines] = useState<LogLine[] | undefined>(undefined);
  const [next, setNext] = useState<string | null>(null);
  const [error, setError] = useState<ApiError | undefined>(undefined);

  const load = (): void => {
    get<Page<LogLine>>(`/api/runs/${runId}/logs${query({ level, limit: PAGE })}`)
      .then((p) => {
        setLines(p.items);
        setNext(p.nextCursor);
        setError(undefined);
      })
      .catch((err: unknown) => setError(err instanceof ApiError ? err : new ApiError(0, String(err))));
  };
  useEffect(load, [runId, level, version]);

  const more = (): void => {
    if (!next) return;
    get<Page<LogLine>>(`/api/runs/${runId}/logs${query({ level, limit: PAGE, cursor: next })}`)
      .then((p) => {
        setLines((l) => [...(l ?? []), ...p.items]);
        setNext(p.nextCursor);
      })
      .catch((err: unknown) => setError(err instanceof ApiError ? err : new ApiError(0, String(err))));
  };

  return (
    <div class="logs">
      <div class="filters">
        <label>
          Level
          <select name="log-level" value={level} onChange={(e) => setLevel(e.currentTarget.value)}>
            {LEVELS.map((l) => (
              <option key={l} value={l}>
                {l} and above
              </option>
            ))}
          </select>
        </label>
      </div>
      {error && <ErrorBox error={error} retry={load} />}
      {!lines && !error && <Loading what="logs" />}
      {lines && lines.length === 0 && <Empty>No log lines at {level} or above.</Empty>}
      {lines && lines.length > 0 && (
        <ol class="log-lines" data-testid="log-lines">
          {lines.map((l) => (
            <li key={l.seq} class={`log log-${l.level.toLowerCase()}`}>
              <time>{new Date(l.occurredAt).toLocaleTimeString()}</time>
              <span class="level">{l.level}</span>
              <span class="msg">{l.message}</span>
            </li>
          ))}
        </ol>
      )}
      {next && (
        <button type="button" onClick={more}>
          Load more
        </button>
      )}
    </div>
  );
}
