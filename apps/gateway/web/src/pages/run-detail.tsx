import { useEffect, useMemo, useRef, useState } from 'preact/hooks';
import { formatMetric, metricLabel } from '@runforge/client';
import {
  ApiError,
  cancelUrl,
  get,
  post,
  TERMINAL,
  type DashboardConfig,
  type FailureGroup,
  type Objective,
  type Run,
  type TrialSummary,
} from '../api';
import { fmtDuration, fmtNum, fmtSeconds, fmtTime } from '../format';
import { useLiveRun, type LiveMode } from '../live';
import { toast } from '../toasts';
import { EquityChart } from '../components/equity-chart';
import { EventsList } from '../components/events-list';
import { LogsViewer } from '../components/logs-viewer';
import { TrialsTable } from '../components/trials-table';
import { ObjectiveHeatmap } from '../components/objective-heatmap';
import { twoAxes } from '../heatmap';
import { BestEquity } from '../components/best-equity';
import {
  ConfirmButton,
  ErrorBox,
  Loading,
  Metrics,
  progressOf,
  ProgressBar,
  RunId,
  Section,
  StatusBadge,
} from '../components/ui';

let configPromise: Promise<DashboardConfig> | undefined;
function dashboardConfig(): Promise<DashboardConfig> {
  configPromise ??= get<DashboardConfig>('/api/dashboard/config').catch(() => ({
    traceUrlTemplate: 'http://localhost:16686/trace/{traceId}',
  }));
  return configPromise;
}

/** Bumps at most every `ms` while `key` keeps changing (and at once when the run ends): paces refetches. */
function usePacedVersion(key: string, ended: boolean, ms = 2_000): number {
  const [version, setVersion] = useState(0);
  const last = useRef(0);
  useEffect(() => {
    const wait = ended ? 0 : Math.max(0, last.current + ms - Date.now());
    const t = window.setTimeout(() => {
      last.current = Date.now();
      setVersion((v) => v + 1);
    }, wait);
    return () => window.clearTimeout(t);
  }, [key, ended]);
  return version;
}

const MODE_LABEL: Record<LiveMode, string> = {
  connecting: 'connecting…',
  live: 'live',
  polling: 'stream down: polling',
  done: 'final',
};

export function RunDetail({ id }: { id: string }) {
  const { run, error, mode } = useLiveRun(id);
  const [cancelError, setCancelError] = useState<ApiError | undefined>(undefined);
  const [traceTemplate, setTraceTemplate] = useState<string | undefined>(undefined);
  useEffect(() => {
    void dashboardConfig().then((c) => setTraceTemplate(c.traceUrlTemplate));
  }, []);
  const ended = run ? TERMINAL.has(run.status) : false;
  const progressKey = run ? `${run.status}|${progressOf(run).done}` : '';
  const version = usePacedVersion(progressKey, ended);

  // A failure's toast links here with `?view=logs`: the logs, once the page has them.
  const haveRun = run !== undefined;
  useEffect(() => {
    if (haveRun && new URLSearchParams(location.search).get('view') === 'logs')
      document.getElementById('logs')?.scrollIntoView({ block: 'start' });
  }, [haveRun, id]);

  if (error) return <ErrorBox error={error.status === 404 ? new ApiError(404, `No run with id ${id}.`) : error} />;
  if (!run) return <Loading what="run" />;

  const cancel = async (): Promise<void> => {
    setCancelError(undefined);
    try {
      await post(cancelUrl(run.id));
      toast({ tone: 'info', text: 'Cancellation requested', href: `/runs/${run.id}` });
    } catch (err) {
      const e = err instanceof ApiError ? err : new ApiError(0, String(err));
      setCancelError(e.status === 409 ? new ApiError(409, 'The run had already ended.') : e);
    }
  };

  const traceUrl = run.traceId && traceTemplate ? traceTemplate.replace('{traceId}', run.traceId) : undefined;
  const metrics = run.result?.metrics;
  // Optimizations: the result once ended (a stopped run's is built from the trials it recorded),
  // the progress so far while running.
  const best = run.result?.best ?? (ended ? undefined : run.bestTrial);
  const failureGroups = run.result?.failures ?? (ended ? undefined : run.failures);
  const objective = run.result?.objective ?? objectiveOf(run.request);
  const axes = twoAxes(run.request);

  return (
    <div class="run-detail" data-run-id={run.id}>
      <div class="page-head">
        <div>
          <p class="crumbs">
            <a href="/">Runs</a> / {run.kind}
          </p>
          <h1>
            {run.strategy} <StatusBadge status={run.status} />
          </h1>
          <p class="hint">
            <RunId id={run.id} link={false} />
          </p>
        </div>
        <div class="head-actions">
          <span class={`live live-${mode}`} data-testid="live-mode">
            {MODE_LABEL[mode]}
          </span>
          {!ended && (
            <ConfirmButton
              label={`Cancel ${run.kind}`}
              question="Cancel this run?"
              confirmLabel="Yes, cancel"
              onConfirm={cancel}
            />
          )}
        </div>
      </div>
      {cancelError && <ErrorBox error={cancelError} />}

      <Section title="Progress">
        <ProgressBar run={run} />
        {run.kind === 'optimization' && run.failedCombinations > 0 && (
          <p class="hint">
            {fmtNum(run.completedCombinations)} completed,{' '}
            <span class="bad">{fmtNum(run.failedCombinations)} failed</span>
          </p>
        )}
        {run.status === 'Pending' && (
          <p class="hint" data-testid="queued">
            Not started yet: waiting for a free worker.
          </p>
        )}
        {run.kind === 'optimization' && run.status === 'Running' && <Pace run={run} />}
        <dl class="facts">
          <div>
            <dt>Requested</dt>
            <dd>{fmtTime(run.requestedAt)}</dd>
          </div>
          <div>
            <dt>Started</dt>
            <dd>{fmtTime(run.startedAt)}</dd>
          </div>
          <div>
            <dt>Finished</dt>
            <dd>{fmtTime(run.completedAt)}</dd>
          </div>
          <div>
            <dt>Duration</dt>
            <dd>{fmtDuration(run.startedAt, run.completedAt)}</dd>
          </div>
          <div>
            <dt>Attempt</dt>
            <dd>{run.attempt}</dd>
          </div>
          <div>
            <dt>Triggered by</dt>
            <dd>
              {run.triggeredBy ?? '–'}
              {run.scheduleId && (
                <>
                  {' '}
                  (<a href={`/?scheduleId=${encodeURIComponent(run.scheduleId)}`}>schedule</a>)
                </>
              )}
            </dd>
          </div>
          <div>
            <dt>Requested by</dt>
            <dd data-testid="requested-by">
              {run.principal ? (
                <a
                  href={`/?principal=${encodeURIComponent(run.principal.id)}`}
                  title={`${run.principal.kind} ${run.principal.id}: its runs`}
                >
                  {run.principal.name}
                </a>
              ) : (
                '–'
              )}
            </dd>
          </div>
          <div>
            <dt>Trace</dt>
            <dd>
              {traceUrl ? (
                <a href={traceUrl} target="_blank" rel="noreferrer" data-testid="trace-link">
                  {run.traceId?.slice(0, 16)}…
                </a>
              ) : (
                '–'
              )}
            </dd>
          </div>
        </dl>
      </Section>

      {run.status === 'Failed' && (
        <Section title="Failure">
          <p class="error-message" data-testid="run-error">
            {run.errorMessage ?? run.failureReason ?? 'failed'}
          </p>
          {run.errorStackTrace && (
            <details>
              <summary>Stack trace</summary>
              <pre class="stack">{run.errorStackTrace}</pre>
            </details>
          )}
        </Section>
      )}

      {run.kind === 'backtest' && metrics && (
        <Section title="Result">
          <Metrics metrics={metrics} />
          {run.result?.equityCurve && <EquityChart points={run.result.equityCurve} />}
        </Section>
      )}

      {run.result && 'output' in run.result && (
        <Section title="Result">
          <pre class="request" data-testid="program-result">
            {JSON.stringify(run.result.output, null, 2)}
          </pre>
        </Section>
      )}

      {run.kind === 'optimization' && best && (
        <Section title={ended ? 'Best trial' : 'Best trial so far'}>
          <BestTrial best={best} objective={objective} />
        </Section>
      )}

      {run.kind === 'optimization' && ended && best && run.request && (
        <Section title="Best trial's equity curve">
          <BestEquity strategy={run.strategy} request={run.request} best={best} />
        </Section>
      )}

      {run.kind === 'optimization' && axes && (
        <Section title="Objective by parameters">
          <ObjectiveHeatmap runId={run.id} axes={axes} objective={objective} version={version} />
        </Section>
      )}

      {run.kind === 'optimization' && failureGroups && failureGroups.length > 0 && (
        <Section title="Failed trials by kind">
          <FailureGroups groups={failureGroups} />
        </Section>
      )}

      {run.kind === 'optimization' && (
        <Section title="Trials">
          <TrialsTable runId={run.id} version={version} />
        </Section>
      )}

      {run.request && (
        <Section title="Request">
          <details>
            <summary>
              What was asked{objective ? ` (objective: ${objective.direction} ${objective.metric})` : ''}
            </summary>
            <pre class="request" data-testid="run-request">
              {JSON.stringify(run.request, null, 2)}
            </pre>
          </details>
        </Section>
      )}

      <Section title="Logs" id="logs">
        <LogsViewer runId={run.id} version={version} />
      </Section>

      <Section title="History">
        <EventsList runId={run.id} />
      </Section>
    </div>
  );
}

/** Re-renders every `intervalMs` while it is above 0 (a clock shown ticking between snapshots). */
function useNow(intervalMs: number): number {
  const [now, setNow] = useState(() => Date.now());
  useEffect(() => {
    if (intervalMs <= 0) return undefined;
    const t = window.setInterval(() => setNow(Date.now()), intervalMs);
    return () => window.clearInterval(t);
  }, [intervalMs]);
  return now;
}

/**
 * A running optimization's pace: the ETA while trials keep finishing; while stalled (no outcome for
 * longer than the run's own pace allows, decided by the gateway) how long none has finished, in
 * place of an ETA that would only keep growing. The seconds come from the gateway's clock at the
 * snapshot and tick on here, so a browser clock that is off changes nothing.
 */
function Pace({ run }: { run: Run }) {
  const receivedAt = useMemo(() => Date.now(), [run]);
  const waitingFirst = run.lastProgressAt == null && run.secondsSinceProgress !== undefined;
  const now = useNow(run.stalled || waitingFirst ? 1_000 : 0);
  const since =
    run.secondsSinceProgress === undefined
      ? undefined
      : run.secondsSinceProgress + Math.max(0, Math.floor((now - receivedAt) / 1000));
  if (run.stalled) {
    return (
      <p class="alert stall" role="status" data-testid="stall">
        <strong>No trial has finished for {fmtSeconds(since)}.</strong> Stalled: at this run&rsquo;s pace one should
        have come within {fmtSeconds(run.stallAfterSeconds)}. No time estimate until trials finish again.
      </p>
    );
  }
  if (waitingFirst) {
    return (
      <p class="hint" data-testid="first-trial">
        waiting for the first trial to finish (running for {fmtSeconds(since)})
      </p>
    );
  }
  if (run.etaSeconds === undefined) return null;
  return (
    <p class="hint" data-testid="eta">
      about {fmtSeconds(run.etaSeconds)} left at {fmtNum(run.trialsPerSecond ?? 0, 1)} trials/s
    </p>
  );
}

/** The objective of an optimization's request, when it names one (stored requests carry the default). */
function objectiveOf(request: Record<string, unknown> | undefined): Objective | undefined {
  const o = request?.objective as Partial<Objective> | undefined;
  return o && typeof o.metric === 'string' && (o.direction === 'maximize' || o.direction === 'minimize')
    ? { metric: o.metric, direction: o.direction }
    : undefined;
}

function BestTrial({ best, objective }: { best: TrialSummary; objective?: Objective }) {
  // The objective's own value reads better than the score (which is negated when minimizing).
  const value = objective ? best.metrics?.[objective.metric] : undefined;
  return (
    <div data-testid="best-trial">
      {best.params && (
        <p>
          {Object.entries(best.params).map(([k, v]) => (
            <span class="tag" key={k}>
              {k} = {String(v)}
            </span>
          ))}
          {objective && typeof value === 'number' ? (
            <span data-testid="best-objective">
              {' '}
              {metricLabel(objective.metric)} {formatMetric(objective.metric, value)} (
              {objective.direction === 'minimize' ? 'lowest' : 'highest'})
            </span>
          ) : (
            typeof best.score === 'number' && <span> score {fmtNum(best.score)}</span>
          )}
        </p>
      )}
      {best.metrics && <Metrics metrics={best.metrics} />}
    </div>
  );
}

function FailureGroups({ groups }: { groups: FailureGroup[] }) {
  return (
    <ul class="failure-groups" data-testid="failure-groups">
      {groups.map((g) => (
        <li key={g.fingerprint}>
          <span class="bad">
            {fmtNum(g.count)} trial{g.count === 1 ? '' : 's'} failed
          </span>{' '}
          with <span class="error-message">{g.message}</span> <span class="hint mono">(first: {g.sampleTrialId})</span>
        </li>
      ))}
    </ul>
  );
}
