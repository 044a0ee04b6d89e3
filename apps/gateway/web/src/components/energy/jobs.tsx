import { useEffect } from 'preact/hooks';
import { TERMINAL, type Run, type RunStatus } from '../../api';
import { energyResultOf, fmtEuro } from '../../energy';
import { fmtMillis, fmtTime, shortId } from '../../format';
import { useLiveRun } from '../../live';
import { Empty, ProgressBar, StatusBadge } from '../ui';
import { logsHref } from './use-energy-jobs';

const ICONS: Record<RunStatus, string> = {
  Pending: '◷',
  Running: '◌',
  Completed: '✓',
  Failed: '✕',
  Cancelled: '⊘',
};

export function StatusIcon({ status }: { status: RunStatus }) {
  return (
    <span class={`status-icon status-icon-${status.toLowerCase()}`} aria-hidden="true">
      {ICONS[status]}
    </span>
  );
}

/** Ends are announced by the page from everything it reads, not by each job's stream. */
const announcedByThePage = (): void => undefined;

/** One job that has not ended, followed over its live stream (polled while the stream is down). */
function RunningJob({ run, onSeen }: { run: Run; onSeen: (run: Run) => void }) {
  const live = useLiveRun(run.id, announcedByThePage);
  useEffect(() => {
    if (live.run) onSeen(live.run);
  }, [live.run, onSeen]);
  const current = live.run ?? run;
  return (
    <li class="running-job" data-testid="running-job" data-run-id={run.id}>
      <div class="running-head">
        <StatusIcon status={current.status} />
        <strong>{current.kind.toUpperCase()}</strong>
        <a href={`/runs/${run.id}`} title={run.id}>
          {shortId(run.id)}
        </a>
        <StatusBadge status={current.status} />
        {current.status === 'Pending' && <span class="hint">waiting for a free worker</span>}
      </div>
      <ProgressBar run={current} />
    </li>
  );
}

export function RunningJobs({ runs, onSeen }: { runs: readonly Run[]; onSeen: (run: Run) => void }) {
  return (
    <ul class="running-jobs">
      {runs.map((r) => (
        <RunningJob key={r.id} run={r} onSeen={onSeen} />
      ))}
    </ul>
  );
}

/** The data source's latest jobs: status, duration, objective; their logs and their plan a click away. */
export function RecentJobs({
  runs,
  sourceId,
  charted,
  onChart,
}: {
  runs: readonly Run[];
  sourceId: string;
  charted: string | undefined;
  onChart: (id: string) => void;
}) {
  if (runs.length === 0) return <Empty>No job has run on this data source yet.</Empty>;
  return (
    <div class="table-wrap">
      <table data-testid="recent-jobs">
        <thead>
          <tr>
            <th>Status</th>
            <th>Model</th>
            <th>Job</th>
            <th>Requested</th>
            <th>Duration</th>
            <th>Objective</th>
            <th />
          </tr>
        </thead>
        <tbody>
          {runs.map((r) => {
            const result = energyResultOf(r);
            const objective = result?.objective_value;
            return (
              <tr key={r.id} data-run-id={r.id} class={r.id === charted ? 'selected' : ''}>
                <td>
                  <StatusIcon status={r.status} /> <StatusBadge status={r.status} />
                </td>
                <td>{r.kind.toUpperCase()}</td>
                <td>
                  <a href={`/runs/${r.id}`} title={r.id}>
                    {shortId(r.id)}
                  </a>
                </td>
                <td>{fmtTime(r.requestedAt)}</td>
                <td>{TERMINAL.has(r.status) ? fmtMillis(r.durationMs) : '–'}</td>
                <td data-testid="objective" title={r.errorMessage ?? undefined}>
                  {typeof objective === 'number' ? fmtEuro(objective) : r.status === 'Failed' ? 'no plan' : '–'}
                </td>
                <td class="row-actions">
                  <a href={logsHref(sourceId, r.id)}>Logs</a>
                  {result && result.schedule.length > 0 && (
                    <button type="button" class="link" aria-pressed={r.id === charted} onClick={() => onChart(r.id)}>
                      Chart
                    </button>
                  )}
                </td>
              </tr>
            );
          })}
        </tbody>
      </table>
    </div>
  );
}
