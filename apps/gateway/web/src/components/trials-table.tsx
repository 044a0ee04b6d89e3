import { Fragment } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { ApiError, get, query, type Page, type Trial } from '../api';
import { formatMetric, metricLabel } from '@runforge/client';
import { fmtNum } from '../format';
import { Empty, ErrorBox, Loading, StatusBadge } from './ui';

const PAGE = 50;
/** The metrics a trial's row shows, labelled from the shared table. */
const COLUMN_METRICS = ['totalReturn', 'sharpe', 'maxDrawdown', 'tradeCount'] as const;
/** Sort keys offered to `GET /api/runs/{id}/trials?sort=`; `-` means descending. */
const SORTS: Record<string, string> = { index: 'index', '-score': 'score ↓', score: 'score ↑' };

function paramsText(p: Record<string, unknown>): string {
  return Object.entries(p)
    .map(([k, v]) => `${k}=${String(v)}`)
    .join(', ');
}

/**
 * An optimization's trials, filtered by status and sorted on the server (keyset pages); a failed
 * trial's row expands to its error message and stack trace. `version` changes as the run
 * progresses, which refetches the first page.
 */
export function TrialsTable({ runId, version }: { runId: string; version: number }) {
  const [status, setStatus] = useState('');
  const [sort, setSort] = useState('index');
  const [cursors, setCursors] = useState<(string | null)[]>([null]);
  const [page, setPage] = useState<Page<Trial> | undefined>(undefined);
  const [error, setError] = useState<ApiError | undefined>(undefined);
  const [open, setOpen] = useState<Set<string>>(new Set());
  const cursor = cursors[cursors.length - 1] ?? null;

  const load = (): void => {
    get<Page<Trial>>(`/api/runs/${runId}/trials${query({ status, sort, limit: PAGE, cursor })}`)
      .then((p) => {
        setPage(p);
        setError(undefined);
      })
      .catch((err: unknown) => setError(err instanceof ApiError ? err : new ApiError(0, String(err))));
  };
  useEffect(load, [runId, status, sort, cursor, version]);

  const toggle = (id: string): void => {
    const next = new Set(open);
    if (next.has(id)) next.delete(id);
    else next.add(id);
    setOpen(next);
  };

  return (
    <div class="trials">
      <div class="filters">
        <label>
          Status
          <select
            name="trial-status"
            value={status}
            onChange={(e) => {
              setStatus(e.currentTarget.value);
              setCursors([null]);
            }}
          >
            <option value="">any</option>
            <option value="Completed">Completed</option>
            <option value="Failed">Failed</option>
          </select>
        </label>
      </div>
      {error && <ErrorBox error={error} retry={load} />}
      {!page && !error && <Loading what="trials" />}
      {page && page.items.length === 0 && <Empty>No trials {status ? `with status ${status}` : 'yet'}.</Empty>}
      {page && page.items.length > 0 && (
        <div class="table-wrap">
          <table data-testid="trials-table">
            <thead>
              <tr>
                <SortHeader label="#" keyAsc="index" sort={sort} setSort={(s) => (setSort(s), setCursors([null]))} />
                <th>Parameters</th>
                <th>Status</th>
                <SortHeader
                  label="Score"
                  keyAsc="score"
                  keyDesc="-score"
                  sort={sort}
                  setSort={(s) => (setSort(s), setCursors([null]))}
                />
                {COLUMN_METRICS.map((m) => (
                  <th key={m} title={m}>
                    {metricLabel(m)}
                  </th>
                ))}
              </tr>
            </thead>
            <tbody>
              {page.items.map((t) => {
                const failed = t.status === 'Failed';
                const expanded = open.has(t.trialId);
                return (
                  <Fragment key={t.trialId}>
                    <tr class={failed ? 'failed-row' : ''} data-trial-index={t.index}>
                      <td>{t.index}</td>
                      <td>
                        <code>{paramsText(t.params)}</code>
                      </td>
                      <td>
                        <StatusBadge status={t.status} />
                        {failed && (
                          <button type="button" class="link" aria-expanded={expanded} onClick={() => toggle(t.trialId)}>
                            {expanded ? 'hide error' : 'show error'}
                          </button>
                        )}
                      </td>
                      <td>{fmtNum(t.score)}</td>
                      {COLUMN_METRICS.map((m) => (
                        <td key={m}>{formatMetric(m, t.metrics?.[m])}</td>
                      ))}
                    </tr>
                    {failed && expanded && (
                      <tr class="error-row">
                        <td colSpan={8}>
                          <p class="error-message" data-testid="trial-error-message">
                            {t.errorMessage ?? 'no message'}
                          </p>
                          <pre class="stack" data-testid="trial-error-stack">
                            {t.errorStackTrace ?? 'no stack trace recorded'}
                          </pre>
                        </td>
                      </tr>
                    )}
                  </Fragment>
                );
              })}
            </tbody>
          </table>
        </div>
      )}
      {page && (cursors.length > 1 || page.nextCursor) && (
        <nav class="pager" aria-label="Trial pages">
          <button type="button" disabled={cursors.length <= 1} onClick={() => setCursors((c) => c.slice(0, -1))}>
            ← Previous
          </button>
          <span>Page {cursors.length}</span>
          <button
            type="button"
            disabled={!page.nextCursor}
            onClick={() => setCursors((c) => (page.nextCursor ? [...c, page.nextCursor] : c))}
          >
            Next →
          </button>
        </nav>
      )}
    </div>
  );
}

function SortHeader({
  label,
  keyAsc,
  keyDesc,
  sort,
  setSort,
}: {
  label: string;
  keyAsc: string;
  keyDesc?: string;
  sort: string;
  setSort: (s: string) => void;
}) {
  const active = sort === keyAsc || sort === keyDesc;
  // Score sorts best-first on the first click; index ascending.
  const next = keyDesc ? (sort === keyDesc ? keyAsc : keyDesc) : keyAsc;
  return (
    <th aria-sort={active ? (sort === keyDesc ? 'descending' : 'ascending') : 'none'}>
      <button type="button" class="link sort" title={`sort by ${SORTS[next] ?? next}`} onClick={() => setSort(next)}>
        {label}
        {active ? (sort === keyDesc ? ' ↓' : ' ↑') : ''}
      </button>
    </th>
  );
}
