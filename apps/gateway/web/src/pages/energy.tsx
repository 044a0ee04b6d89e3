import { useEffect, useState } from 'preact/hooks';
import { energyResultOf, type EnergySource } from '../energy';
import { navigate, type Location } from '../router';
import { RecentJobs, RunningJobs } from '../components/energy/jobs';
import { LogsDialog } from '../components/energy/logs-dialog';
import { ModelCards } from '../components/energy/model-cards';
import { ScheduleChart } from '../components/energy/schedule-chart';
import { NewSourceForm, SourcePicker, useSources } from '../components/energy/sources';
import { useEnergyJobs } from '../components/energy/use-energy-jobs';
import { Empty, ErrorBox, Loading, Section } from '../components/ui';

const pageUrl = (sourceId: string): string => `/energy?source=${encodeURIComponent(sourceId)}`;

/**
 * The energy models' control card: pick a data source (kept in the URL as `?source=`), run DMO,
 * RMO or SO on it, follow the running jobs, read the latest ones, their logs (`&logs=<run id>`)
 * and the plan of a completed one.
 */
export function EnergyPage({ loc }: { loc: Location }) {
  const sources = useSources();
  const selectedId = loc.search.get('source') ?? '';
  const source = sources.items?.find((s) => s.id === selectedId);
  const first = sources.items?.[0];

  useEffect(() => {
    if (!selectedId && first) navigate(pageUrl(first.id), true);
  }, [selectedId, first]);

  const created = (s: EnergySource): void => {
    void sources.reload().then(() => navigate(pageUrl(s.id)));
  };

  return (
    <div>
      <div class="page-head">
        <h1>Energy</h1>
      </div>
      <Section title="Data source">
        {sources.error && <ErrorBox error={sources.error} retry={() => void sources.reload()} />}
        {!sources.items && !sources.error && <Loading what="data sources" />}
        {sources.items && sources.items.length === 0 && <Empty>No data source yet: create one below.</Empty>}
        {sources.items && sources.items.length > 0 && (
          <SourcePicker sources={sources.items} selected={source} onSelect={(id) => navigate(pageUrl(id))} />
        )}
        {sources.items && selectedId && !source && (
          <p class="field-error" role="alert">
            No data source with id <code>{selectedId}</code>.
          </p>
        )}
        <details class="new-source-details" open={sources.items?.length === 0}>
          <summary>New synthetic data source</summary>
          <NewSourceForm onCreated={created} />
        </details>
      </Section>
      {source && <ControlCard key={source.id} source={source} logsFor={loc.search.get('logs') ?? undefined} />}
    </div>
  );
}

function ControlCard({ source, logsFor }: { source: EnergySource; logsFor: string | undefined }) {
  const jobs = useEnergyJobs(source);
  const [chartId, setChartId] = useState<string | undefined>(undefined);
  // The chosen job's plan, else the newest completed one's.
  const charted =
    (chartId ? jobs.byId[chartId] : undefined) ??
    jobs.recent.find((r) => r.status === 'Completed' && energyResultOf(r));
  const chartedResult = energyResultOf(charted);

  return (
    <>
      <Section title="Models">
        {jobs.error && <ErrorBox error={jobs.error} retry={jobs.reload} />}
        <ModelCards source={source} jobs={jobs} />
      </Section>
      {jobs.active.length > 0 && (
        <Section title="Running jobs">
          <RunningJobs runs={jobs.active} onSeen={jobs.seen} />
        </Section>
      )}
      <Section title="Recent jobs">
        {jobs.loaded ? (
          <RecentJobs runs={jobs.recent} sourceId={source.id} charted={charted?.id} onChart={setChartId} />
        ) : (
          !jobs.error && <Loading what="jobs" />
        )}
      </Section>
      <Section title="Schedule">
        {charted && chartedResult ? (
          <ScheduleChart run={charted} result={chartedResult} />
        ) : (
          <Empty>The plan of a completed job shows here.</Empty>
        )}
      </Section>
      {logsFor && (
        <LogsDialog
          key={logsFor}
          runId={logsFor}
          run={jobs.byId[logsFor]}
          onClose={() => navigate(pageUrl(source.id), true)}
        />
      )}
    </>
  );
}
