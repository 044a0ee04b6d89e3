import { useCallback, useEffect, useMemo, useReducer, useRef, useState } from 'preact/hooks';
import { ApiError, get, post, query, TERMINAL, type Page, type Run } from '../../api';
import {
  acceptedRun,
  activeJobs,
  calendarDay,
  conflictInForce,
  conflictOf,
  dmoBlockOf,
  endText,
  energyResultOf,
  evolveJobs,
  justEnded,
  MARKET_TIME_ZONE,
  recentJobs,
  type DmoBlock,
  type EnergyKind,
  type EnergyRunAccepted,
  type EnergySource,
} from '../../energy';
import { announceEnd } from '../../toasts';
import { EventStream } from '../../event-stream';

/** Refresh pace while the change stream is down. */
const FALLBACK_POLL_MS = 5_000;
const KINDS = 'dmo,rmo,so';

/** Where a job's logs open: the page's URL with `logs=<run id>`, so a toast's link works from anywhere. */
export function logsHref(sourceId: string, runId: string): string {
  return `/energy${query({ source: sourceId, logs: runId })}`;
}

export interface EnergyJobs {
  /** Whether the runs have been read once. */
  loaded: boolean;
  recent: Run[];
  active: Run[];
  /** Every job known, by id (for the logs dialog). */
  byId: Readonly<Record<string, Run>>;
  error?: ApiError;
  dmoBlock?: DmoBlock;
  /** Kinds whose submission is under way. */
  submitting: ReadonlySet<EnergyKind>;
  /** Why the latest submission of a kind was refused (a 409 of DMO shows as `dmoBlock` instead). */
  refusals: Readonly<Partial<Record<EnergyKind, ApiError>>>;
  submit: (kind: EnergyKind) => Promise<void>;
  /** A read of a job from elsewhere (its live stream). */
  seen: (run: Run) => void;
  reload: () => void;
}

/** Re-renders at `at` (and then answers the time), so a block that ends at midnight ends on screen. */
function useNowUntil(at: string | undefined): Date {
  const [now, setNow] = useState(() => new Date());
  useEffect(() => {
    if (!at) return;
    const wait = Date.parse(at) - Date.now();
    // Timers fire early by a few ms at most; a second later the new day has surely begun.
    const t = window.setTimeout(() => setNow(new Date()), Math.max(0, wait) + 1_000);
    return () => window.clearTimeout(t);
  }, [at]);
  return now;
}

/**
 * A data source's energy jobs, kept current: the newest five, the ones still running and today's
 * DMO (`GET /api/runs?dataSourceId=`), refetched on `/api/runs/stream` notices (polled while that
 * stream is down) and merged with the live snapshots the running jobs' streams bring. Announces a
 * job's end once, with its objective or its failure.
 */
export function useEnergyJobs(source: EnergySource): EnergyJobs {
  const [jobs, dispatch] = useReducer(evolveJobs, {});
  const [error, setError] = useState<ApiError | undefined>(undefined);
  const [loaded, setLoaded] = useState(false);
  const [conflict, setConflict] = useState<DmoBlock | undefined>(undefined);
  const [submitting, setSubmitting] = useState<ReadonlySet<EnergyKind>>(new Set());
  const [refusals, setRefusals] = useState<Partial<Record<EnergyKind, ApiError>>>({});
  const statuses = useRef(new Map<string, string>());
  const detailsAsked = useRef(new Set<string>());
  const sourceId = source.id;

  const seen = useCallback((run: Run) => dispatch([run]), []);

  const load = useCallback(async (): Promise<void> => {
    const day = calendarDay(new Date(), MARKET_TIME_ZONE);
    const list = (q: Record<string, string | number>) =>
      get<Page<Run>>(`/api/runs${query({ kind: KINDS, dataSourceId: sourceId, ...q })}`);
    try {
      const pages = await Promise.all([
        list({ limit: 5 }),
        list({ status: 'Pending,Running', limit: 20 }),
        list({ kind: 'dmo', from: day.start.toISOString(), limit: 1 }),
      ]);
      dispatch(pages.flatMap((p) => p.items));
      setLoaded(true);
      setError(undefined);
    } catch (err) {
      setError(err instanceof ApiError ? err : new ApiError(0, String(err)));
    }
  }, [sourceId]);

  useEffect(() => {
    void load();
    let timer: number | undefined;
    const source = new EventStream('/api/runs/stream');
    source.addEventListener('changed', () => void load());
    source.addEventListener('ready', () => {
      if (timer !== undefined) window.clearInterval(timer);
      timer = undefined;
    });
    source.onerror = () => {
      timer ??= window.setInterval(() => void load(), FALLBACK_POLL_MS);
    };
    return () => {
      source.close();
      if (timer !== undefined) window.clearInterval(timer);
    };
  }, [load]);

  const details = useCallback(async (id: string): Promise<Run | undefined> => {
    detailsAsked.current.add(id);
    try {
      const run = await get<Run>(`/api/runs/${id}`);
      dispatch([run]);
      return run;
    } catch {
      return undefined;
    }
  }, []);

  // Ends are announced from what the page knows, whichever read brought them (list or stream).
  useEffect(() => {
    for (const run of justEnded(statuses.current, jobs)) {
      const announce = (r: Run): void =>
        announceEnd(r.id, {
          tone: r.status === 'Completed' ? 'ok' : r.status === 'Failed' ? 'bad' : 'muted',
          text: endText(r),
          href: logsHref(sourceId, r.id),
          linkLabel: 'View logs',
          ms: r.status === 'Failed' ? 15_000 : undefined,
        });
      if (run.status === 'Completed' && !energyResultOf(run))
        void details(run.id).then((full) => announce(full ?? run));
      else announce(run);
    }
    for (const run of Object.values(jobs)) statuses.current.set(run.id, run.status);
  }, [jobs, sourceId, details]);

  const recent = useMemo(() => recentJobs(jobs), [jobs]);
  const active = useMemo(() => activeJobs(jobs), [jobs]);

  // The objective and the plan of ended jobs are in their details (the list leaves results out).
  useEffect(() => {
    for (const run of recent)
      if (TERMINAL.has(run.status) && run.result === undefined && !detailsAsked.current.has(run.id))
        void details(run.id);
  }, [recent, details]);

  const derived = dmoBlockOf(Object.values(jobs), new Date());
  const now = useNowUntil(derived?.nextAllowedAt ?? conflict?.nextAllowedAt);
  const inForce = conflictInForce(conflict, now);
  const dmoBlock = derived && Date.parse(derived.nextAllowedAt) > now.getTime() ? { ...inForce, ...derived } : inForce;

  const submit = useCallback(
    async (kind: EnergyKind): Promise<void> => {
      setSubmitting((s) => new Set(s).add(kind));
      setRefusals(({ [kind]: _, ...rest }) => rest);
      try {
        const requestedAt = new Date().toISOString();
        const accepted = await post<EnergyRunAccepted>('/api/runs', {
          kind,
          data_source_id: sourceId,
          triggered_by: 'dashboard',
        });
        // Seen pending from here on, so its end is announced however fast it comes.
        statuses.current.set(accepted.id, 'Pending');
        dispatch([acceptedRun(accepted, requestedAt)]);
      } catch (err) {
        const e = err instanceof ApiError ? err : new ApiError(0, String(err));
        const block = e.status === 409 ? conflictOf(e.message, e.body) : undefined;
        if (block) {
          setConflict(block);
          void load();
        } else setRefusals((r) => ({ ...r, [kind]: e }));
      } finally {
        setSubmitting((s) => {
          const next = new Set(s);
          next.delete(kind);
          return next;
        });
      }
    },
    [sourceId, load],
  );

  return {
    loaded,
    recent,
    active,
    byId: jobs,
    error,
    dmoBlock,
    submitting,
    refusals,
    submit,
    seen,
    reload: () => void load(),
  };
}
