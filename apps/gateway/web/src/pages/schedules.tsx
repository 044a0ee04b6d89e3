import { Cron } from 'croner';
import { useEffect, useState } from 'preact/hooks';
import { ApiError, get, query, request, type Page, type Run, type Schedule } from '../api';
import { fmtTimeIn, shortId } from '../format';
import { toast } from '../toasts';
import { ConfirmButton, Empty, ErrorBox, Loading } from '../components/ui';

const DEFAULT_TEMPLATE = {
  kind: 'optimization',
  strategy: 'sma-crossover',
  axes: { fast: [5, 10], slow: [50] },
  dataset: { synthetic: { bars: 2000, seed: 1, timeframe: '1h' } },
};

const browserZone = Intl.DateTimeFormat().resolvedOptions().timeZone || 'UTC';

/** Cron check and preview in the browser (croner, the library the scheduler uses): answers the next fire times or the reason. */
export function previewCron(expr: string, timezone: string, n = 5): { times: Date[] } | { error: string } {
  const fields = expr.trim().split(/\s+/);
  if (expr.trim() === '' || fields.length < 5 || fields.length > 6)
    return { error: 'a cron expression has 5 fields (or 6 with seconds)' };
  try {
    const job = new Cron(expr.trim(), { timezone, paused: true });
    const times = job.nextRuns(n);
    job.stop();
    return times.length ? { times } : { error: 'this expression never fires' };
  } catch (err) {
    return { error: err instanceof Error ? err.message : String(err) };
  }
}

const templateText = (v: unknown, fallback: string): string => (typeof v === 'string' ? v : fallback);

function isPaused(s: Schedule): boolean {
  return s.paused === true || s.enabled === false || s.status === 'paused' || s.status === 'Paused';
}

function oncePerDay(s: Pick<Schedule, 'maxRunsPerWindow'>): boolean {
  return s.maxRunsPerWindow?.count === 1 && s.maxRunsPerWindow.window === '1d';
}

/** The calendar day of an instant in a time zone, e.g. "2026-01-31". */
function dayIn(iso: string | Date, timeZone: string): string {
  try {
    return new Intl.DateTimeFormat('en-CA', { timeZone, year: 'numeric', month: '2-digit', day: '2-digit' }).format(
      new Date(iso),
    );
  } catch {
    return new Date(iso).toISOString().slice(0, 10);
  }
}

/** When the schedule last started a run (its newest run), for the once-per-day notice. */
function useLastRunAt(scheduleId: string, enabled: boolean, version: number): string | undefined {
  const [at, setAt] = useState<string | undefined>(undefined);
  useEffect(() => {
    if (!enabled) return;
    get<Page<Run>>(`/api/runs${query({ scheduleId, limit: 1 })}`)
      .then((p) => setAt(p.items[0]?.requestedAt))
      .catch(() => setAt(undefined));
  }, [scheduleId, enabled, version]);
  return at;
}

function OncePerDayNotice({ s, version }: { s: Schedule; version: number }) {
  const last = useLastRunAt(s.id, oncePerDay(s), version);
  if (!oncePerDay(s) || !last || dayIn(last, s.timezone) !== dayIn(new Date(), s.timezone)) return null;
  return (
    <p class="alert" role="note" data-testid="ran-today">
      Already ran today ({fmtTimeIn(last, s.timezone)}): this schedule runs at most once per calendar day in {s.timezone}, so further
      fires and triggers today are skipped.
    </p>
  );
}

interface Draft {
  id?: string;
  name: string;
  cron: string;
  timezone: string;
  overlapPolicy: string;
  /** Runs per calendar day in the schedule's zone ('' = no limit). */
  maxPerDay: string;
  template: string;
}

const emptyDraft = (): Draft => ({
  name: '',
  cron: '0 10 * * *',
  timezone: browserZone,
  overlapPolicy: 'skip',
  maxPerDay: '1',
  template: JSON.stringify(DEFAULT_TEMPLATE, null, 2),
});

function draftOf(s: Schedule): Draft {
  return {
    id: s.id,
    name: s.name,
    cron: s.cron,
    timezone: s.timezone,
    overlapPolicy: s.overlapPolicy ?? 'skip',
    maxPerDay: s.maxRunsPerWindow ? String(s.maxRunsPerWindow.count) : '',
    template: JSON.stringify(s.template, null, 2),
  };
}

/** Schedules: next fire times, create / edit with cron validation, pause / resume, trigger now. */
export function Schedules() {
  const [items, setItems] = useState<Schedule[] | undefined>(undefined);
  const [error, setError] = useState<ApiError | undefined>(undefined);
  const [draft, setDraft] = useState<Draft | undefined>(undefined);
  const [version, setVersion] = useState(0);

  const load = (): void => {
    get<Schedule[] | { items: Schedule[] }>('/api/schedules')
      .then((r) => {
        setItems(Array.isArray(r) ? r : r.items);
        setVersion((v) => v + 1);
        setError(undefined);
      })
      .catch((err: unknown) => setError(err instanceof ApiError ? err : new ApiError(0, String(err))));
  };
  useEffect(load, []);

  const act = async (what: string, method: string, url: string): Promise<void> => {
    try {
      const r = await request<{ id?: string } | undefined>(method, url, method === 'DELETE' ? undefined : {});
      // A trigger answers the run it started.
      const runId = what === 'Triggered' ? r?.id : undefined;
      toast({
        tone: 'info',
        text: `${what}${runId ? `: run ${shortId(runId)}` : ''}`,
        ...(runId ? { href: `/runs/${runId}` } : {}),
      });
    } catch (err) {
      const action = { Triggered: 'Trigger', Paused: 'Pause', Resumed: 'Resume', Deleted: 'Delete' }[what] ?? what;
      const refused = err instanceof ApiError && err.status === 409;
      toast({
        tone: 'bad',
        text: `${action} ${refused ? 'refused' : 'failed'}: ${err instanceof Error ? err.message : String(err)}`,
      });
    }
    load();
  };

  return (
    <div>
      <div class="page-head">
        <h1>Schedules</h1>
        {!draft && (
          <button type="button" class="primary" onClick={() => setDraft(emptyDraft())}>
            New schedule
          </button>
        )}
      </div>
      {draft && (
        <ScheduleForm
          draft={draft}
          onCancel={() => setDraft(undefined)}
          onSaved={() => {
            setDraft(undefined);
            load();
          }}
        />
      )}
      {error && <ErrorBox error={error} retry={load} />}
      {!items && !error && <Loading what="schedules" />}
      {items && items.length === 0 && (
        <Empty>No schedules yet. Create one to run a backtest or optimization on a cron cadence.</Empty>
      )}
      {items && items.length > 0 && (
        <div class="schedule-list">
          {items.map((s) => {
            const paused = isPaused(s);
            return (
              <article class="card schedule" key={s.id} data-schedule-id={s.id} data-testid="schedule">
                <header class="card-head">
                  <h2>
                    {s.name}{' '}
                    {paused ? (
                      <span class="badge badge-cancelled">paused</span>
                    ) : (
                      <span class="badge badge-running">active</span>
                    )}
                    {oncePerDay(s) && <span class="tag">once per day</span>}
                    {s.maxRunsPerWindow && !oncePerDay(s) && (
                      <span class="tag">at most {s.maxRunsPerWindow.count} runs per day</span>
                    )}
                  </h2>
                  <div class="head-actions">
                    <button type="button" onClick={() => setDraft(draftOf(s))}>
                      Edit
                    </button>
                    {paused ? (
                      <button
                        type="button"
                        onClick={() => void act('Resumed', 'POST', `/api/schedules/${s.id}/resume`)}
                      >
                        Resume
                      </button>
                    ) : (
                      <button type="button" onClick={() => void act('Paused', 'POST', `/api/schedules/${s.id}/pause`)}>
                        Pause
                      </button>
                    )}
                    <button
                      type="button"
                      onClick={() => void act('Triggered', 'POST', `/api/schedules/${s.id}/trigger`)}
                    >
                      Trigger now
                    </button>
                    <ConfirmButton
                      label="Delete"
                      question="Delete this schedule?"
                      confirmLabel="Yes, delete"
                      onConfirm={() => act('Deleted', 'DELETE', `/api/schedules/${s.id}`)}
                    />
                  </div>
                </header>
                <OncePerDayNotice s={s} version={version} />
                <p>
                  <code>{s.cron}</code> in {s.timezone} · overlap: {s.overlapPolicy ?? 'skip'} ·{' '}
                  {templateText(s.template.kind, 'run')} of {templateText(s.template.strategy, '?')} ·{' '}
                  <a href={`/?scheduleId=${encodeURIComponent(s.id)}`}>its runs</a>
                </p>
                <div>
                  <strong>Next fire times</strong>
                  {paused ? (
                    <p class="hint">none while paused</p>
                  ) : s.nextFireTimes && s.nextFireTimes.length > 0 ? (
                    <ol class="fire-times" data-testid="next-fire-times">
                      {s.nextFireTimes.map((t) => (
                        <li key={t}>{fmtTimeIn(t, s.timezone)}</li>
                      ))}
                    </ol>
                  ) : (
                    <p class="hint">–</p>
                  )}
                </div>
              </article>
            );
          })}
        </div>
      )}
    </div>
  );
}

function ScheduleForm({ draft, onCancel, onSaved }: { draft: Draft; onCancel: () => void; onSaved: () => void }) {
  const [d, setD] = useState<Draft>(draft);
  const [error, setError] = useState<ApiError | undefined>(undefined);
  const [saving, setSaving] = useState(false);
  const preview = previewCron(d.cron, d.timezone);
  let templateError: string | undefined;
  let template: unknown;
  try {
    template = JSON.parse(d.template);
    if (!template || typeof template !== 'object' || Array.isArray(template))
      templateError = 'the template must be a JSON object';
  } catch (err) {
    templateError = `not JSON: ${err instanceof Error ? err.message : String(err)}`;
  }

  const save = async (e: Event): Promise<void> => {
    e.preventDefault();
    if ('error' in preview || templateError) return;
    setSaving(true);
    setError(undefined);
    const body = {
      name: d.name.trim(),
      cron: d.cron.trim(),
      timezone: d.timezone.trim(),
      overlapPolicy: d.overlapPolicy,
      maxRunsPerWindow: d.maxPerDay.trim() ? { count: Number(d.maxPerDay), window: '1d' } : null,
      template,
    };
    try {
      if (d.id) await request('PATCH', `/api/schedules/${d.id}`, body);
      else await request('POST', '/api/schedules', body);
      toast({ tone: 'ok', text: d.id ? `Schedule ${body.name} saved` : `Schedule ${body.name} created` });
      onSaved();
    } catch (err) {
      setError(err instanceof ApiError ? err : new ApiError(0, String(err)));
    } finally {
      setSaving(false);
    }
  };

  return (
    <form
      class="card schedule-form"
      onSubmit={(e) => void save(e)}
      aria-label={d.id ? 'Edit schedule' : 'New schedule'}
    >
      <h2>{d.id ? `Edit ${draft.name}` : 'New schedule'}</h2>
      <div class="row">
        <label>
          Name
          <input name="name" required value={d.name} onInput={(e) => setD({ ...d, name: e.currentTarget.value })} />
        </label>
        <label>
          Cron
          <input
            name="cron"
            required
            class="mono"
            value={d.cron}
            onInput={(e) => setD({ ...d, cron: e.currentTarget.value })}
          />
        </label>
        <label>
          Time zone
          <input
            name="timezone"
            required
            value={d.timezone}
            onInput={(e) => setD({ ...d, timezone: e.currentTarget.value })}
          />
        </label>
        <label>
          Overlap
          <select
            name="overlapPolicy"
            value={d.overlapPolicy}
            onChange={(e) => setD({ ...d, overlapPolicy: e.currentTarget.value })}
          >
            <option value="skip">skip while one runs</option>
            <option value="allow">allow</option>
            <option value="cancel-previous">cancel the previous</option>
          </select>
        </label>
      </div>
      {'error' in preview ? (
        <p class="field-error" data-testid="cron-error">
          Cron: {preview.error}
        </p>
      ) : (
        <p class="hint" data-testid="cron-preview">
          Next: {preview.times.map((t) => fmtTimeIn(t.toISOString(), d.timezone)).join(' · ')}
        </p>
      )}
      <label>
        Runs per calendar day (in the time zone; empty: no limit) — later fires and triggers that day are skipped
        <input
          name="maxPerDay"
          type="number"
          min={1}
          step={1}
          value={d.maxPerDay}
          onInput={(e) => setD({ ...d, maxPerDay: e.currentTarget.value })}
        />
      </label>
      <label>
        Run template (JSON: kind, strategy, params or axes, dataset)
        <textarea
          name="template"
          rows={8}
          class="mono"
          value={d.template}
          onInput={(e) => setD({ ...d, template: e.currentTarget.value })}
        />
      </label>
      {templateError && <p class="field-error">{templateError}</p>}
      {error && <ErrorBox error={error} />}
      <div class="actions">
        <button type="submit" class="primary" disabled={saving || 'error' in preview || templateError !== undefined}>
          {saving ? 'Saving…' : d.id ? 'Save' : 'Create schedule'}
        </button>
        <button type="button" onClick={onCancel}>
          Cancel
        </button>
      </div>
    </form>
  );
}
