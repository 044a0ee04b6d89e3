import { useCallback, useEffect, useRef, useState } from 'preact/hooks';
import {
  ApiError,
  get,
  getIfChanged,
  query,
  RUN_STATUSES,
  TERMINAL,
  type KindInfo,
  type Page,
  type Run,
  type Strategy,
} from '../api';
import { progressOf } from '@runforge/client';
import { fmtDuration, fmtMillis, fmtTime } from '../format';
import { navigate, type Location } from '../router';
import { notifyTerminal } from '../toasts';
import { Empty, ErrorBox, Loading, ProgressBar, RunId, StatusBadge } from '../components/ui';
import { EventStream } from '../event-stream';

const PAGE_SIZE = 20;
/** Refresh pace when the change stream is down. */
const FALLBACK_POLL_MS = 5_000;

/** `principal` is set by the run page's "Requested by" link (a key id, a token subject or `scheduler`). */
const FILTERS = ['kind', 'status', 'strategy', 'scheduleId', 'principal'] as const;

/**
 * Runs, newest first, filtered through the URL (`/?status=Running&kind=backtest`) so a filtered
 * view can be shared. Kept fresh by `/api/runs/stream` (a notice when any run changed), falling
 * back to conditional polling (If-None-Match) if that stream drops.
 */
export function RunsList({ loc }: { loc: Location }) {
  const filters = Object.fromEntries(FILTERS.map((f) => [f, loc.search.get(f) ?? ''])) as Record<
    (typeof FILTERS)[number],
    string
  >;
  const filterKey = FILTERS.map((f) => filters[f]).join('|');
  const [cursors, setCursors] = useState<(string | null)[]>([null]);
  const [page, setPage] = useState<Page<Run> | undefined>(undefined);
  const [error, setError] = useState<ApiError | undefined>(undefined);
  const [strategies, setStrategies] = useState<Strategy[]>([]);
  const [kinds, setKinds] = useState<KindInfo[]>([]);
  const etag = useRef<string | undefined>(undefined);
  const known = useRef(new Map<string, string>());
  const cursor = cursors[cursors.length - 1] ?? null;

  const url = `/api/runs${query({ ...filters, limit: PAGE_SIZE, cursor })}`;

  const load = useCallback(async (): Promise<void> => {
    try {
      const answer = await getIfChanged<Page<Run>>(url, etag.current);
      setError(undefined);
      if (!answer) return;
      etag.current = answer.etag;
      for (const r of answer.body.items) {
        const before = known.current.get(r.id);
        if (before && !TERMINAL.has(before) && TERMINAL.has(r.status)) notifyTerminal(r);
        known.current.set(r.id, r.status);
      }
      setPage(answer.body);
    } catch (err) {
      setError(err instanceof ApiError ? err : new ApiError(0, String(err)));
    }
  }, [url]);

  useEffect(() => {
    setCursors([null]);
  }, [filterKey]);

  useEffect(() => {
    etag.current = undefined;
    setPage(undefined);
    void load();
  }, [load]);

  useEffect(() => {
    let source: EventStream | undefined;
    let timer: number | undefined;
    const startPolling = (): void => {
      if (timer === undefined) timer = window.setInterval(() => void load(), FALLBACK_POLL_MS);
    };
    source = new EventStream('/api/runs/stream');
    source.addEventListener('changed', () => void load());
    source.addEventListener('ready', () => {
      if (timer !== undefined) window.clearInterval(timer);
      timer = undefined;
    });
    source.onerror = () => startPolling();
    return () => {
      source?.close();
      source = undefined;
      if (timer !== undefined) window.clearInterval(timer);
    };
  }, [load]);

  useEffect(() => {
    get<{ items: KindInfo[] }>('/api/kinds')
      .then((k) => setKinds(k.items))
      .catch(() => setKinds([]));
  }, []);

  useEffect(() => {
    get<{ strategies: Strategy[] }>('/api/strategies')
      .then((s) => setStrategies(s.strategies))
      .catch(() => setStrategies([]));
  }, []);

  const setFilter = (name: string, value: string): void => {
    const q = new URLSearchParams(loc.search);
    if (value) q.set(name, value);
    else q.delete(name);
    const s = q.toString();
    navigate(s ? `/?${s}` : '/', true);
  };

  return (
    <div>
      <div class="page-head">
        <h1>Runs</h1>
        <a class="button primary" href="/new">
          New run
        </a>
      </div>
      <form class="filters" onSubmit={(e) => e.preventDefault()} aria-label="Filters">
        <label>
          Kind
          <select name="kind" value={filters.kind} onChange={(e) => setFilter('kind', e.currentTarget.value)}>
            <option value="">any</option>
            {kinds.map((k) => (
              <option key={k.name} value={k.name} title={k.description}>
                {k.name}
              </option>
            ))}
          </select>
        </label>
        <label>
          Status
          <select name="status" value={filters.status} onChange={(e) => setFilter('status', e.currentTarget.value)}>
            <option value="">any</option>
            {RUN_STATUSES.map((s) => (
              <option key={s} value={s}>
                {s}
              </option>
            ))}
          </select>
        </label>
        <label>
          Strategy
          <select
            name="strategy"
            value={filters.strategy}
            onChange={(e) => setFilter('strategy', e.currentTarget.value)}
          >
            <option value="">any</option>
            {strategies.map((s) => (
              <option key={s.name} value={s.name}>
                {s.name}
              </option>
            ))}
          </select>
        </label>
        <label>
          Schedule id
          <input
            name="scheduleId"
            value={filters.scheduleId}
            placeholder="any"
            onChange={(e) => setFilter('scheduleId', e.currentTarget.value.trim())}
          />
        </label>
        {FILTERS.some((f) => filters[f]) && (
          <button type="button" class="link" onClick={() => navigate('/', true)}>
            Clear filters
          </button>
        )}
      </form>
      {error && <ErrorBox error={error} retry={() => void load()} />}
      {!page && !error && <Loading what="runs" />}
      {page && page.items.length === 0 && (
        <Empty>
          {FILTERS.some((f) => filters[f]) ? 'No run matches these filters.' : 'No runs yet.'}{' '}
          <a href="/new">Start one</a>.
        </Empty>
      )}
      {page && page.items.length > 0 && (
        <div class="table-wrap">
          <table class="runs" data-testid="runs-table">
            <thead>
              <tr>
                <th>Run</th>
                <th>Kind</th>
                <th>Strategy</th>
                <th>Status</th>
                <th class="wide">Progress</th>
                <th>Requested</th>
                <th>Duration</th>
              </tr>
            </thead>
            <tbody>
              {page.items.map((r) => (
                <tr key={r.id} data-run-id={r.id}>
                  <td>
                    <RunId id={r.id} />
                    {r.scheduleId && (
                      <span class="tag" title={`schedule ${r.scheduleId}`}>
                        scheduled
                      </span>
                    )}
                  </td>
                  <td>{r.kind}</td>
                  <td>{r.strategy}</td>
                  <td>
                    <StatusBadge status={r.status} />
                  </td>
                  <td class="wide">
                    <span class="progress-cell">
                      <ProgressBar run={r} compact />
                      <span class="pct" data-testid="run-progress">
                        {progressOf(r).percent}%
                      </span>
                    </span>
                  </td>
                  <td data-testid="run-requested">{fmtTime(r.requestedAt)}</td>
                  <td data-testid="run-duration">
                    {r.durationMs !== null && r.durationMs !== undefined
                      ? fmtMillis(r.durationMs)
                      : fmtDuration(r.startedAt, r.completedAt)}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      {page && (cursors.length > 1 || page.nextCursor) && (
        <nav class="pager" aria-label="Pages">
          <button type="button" disabled={cursors.length <= 1} onClick={() => setCursors((c) => c.slice(0, -1))}>
            ← Newer
          </button>
          <span>Page {cursors.length}</span>
          <button
            type="button"
            disabled={!page.nextCursor}
            onClick={() => setCursors((c) => (page.nextCursor ? [...c, page.nextCursor] : c))}
          >
            Older →
          </button>
        </nav>
      )}
    </div>
  );
}
