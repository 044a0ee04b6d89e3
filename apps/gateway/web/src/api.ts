/** Typed access to the gateway's REST API (same origin). Every failure becomes an ApiError. */
import { refusalOf, RunForgeClient, RunForgeError, type Dataset as ClientDataset } from '@runforge/client';
import type {
  FailureGroup,
  Page,
  RunDetails,
  RunHistory,
  RunHistoryEvent,
  RunKind,
  RunLogLine,
  RunSnapshot,
  RunStatus,
  RunSummary,
  StreamedRun,
  TrialItem,
  TrialSummary,
} from '@runforge/contracts';
import { authHeaders, SESSION_ENDED, signOut } from './session';

// The API's shapes are declared once, in @runforge/contracts, and only ever imported as types here:
// that lib also holds server code the bundle must never pull in.
export type { FailureGroup, Page, RunHistory, RunKind, RunStatus, TrialSummary };
export type LogLine = RunLogLine;
export type Trial = TrialItem;
export type HistoryEvent = RunHistoryEvent;

export const RUN_STATUSES: readonly RunStatus[] = ['Pending', 'Running', 'Completed', 'Failed', 'Cancelled'];
export const TERMINAL: ReadonlySet<string> = new Set<RunStatus>(['Completed', 'Failed', 'Cancelled']);

/**
 * Refusals are the typed client's `RunForgeError` (status, message, `issues` per field, the body),
 * under the name the pages know.
 */
export { RunForgeError as ApiError, type FieldIssue } from '@runforge/client';

/** The typed client, on the page's own origin: the pages fetch through it. */
/**
 * The dashboard's client: every request carries the signed-in key (read at each call, so a sign-in
 * takes effect at once), and a 401 signs out (the key was revoked or expired meanwhile).
 */
export const client = new RunForgeClient({
  fetch: async (input, init) => {
    const res = await fetch(input, {
      ...init,
      headers: { ...authHeaders(), ...(init?.headers as Record<string, string> | undefined) },
    });
    if (res.status === 401) signOut(SESSION_ENDED);
    return res;
  },
});

/**
 * A run as the list, the live stream and the details answer it: the fields all three carry, and the
 * others when the answer has them. `result` is read as the engine writes it.
 */
export type Run = Pick<RunSummary, keyof RunSummary & keyof RunSnapshot> &
  Partial<Omit<RunDetails & StreamedRun, 'result'>> & { result?: RunResult | null };

/** An uploaded OHLCV dataset (`GET /api/datasets`). */
export type Dataset = ClientDataset;

/** An optimization's objective: the metric and whether higher or lower is better. */
export interface Objective {
  metric: string;
  direction: 'maximize' | 'minimize';
}

export interface EquityPoint {
  t: number | string;
  equity: number;
}

export interface RunResult {
  metrics?: Record<string, number>;
  equityCurve?: EquityPoint[];
  objective?: Objective;
  best?: TrialSummary | null;
  top?: TrialSummary[];
  failures?: FailureGroup[];
  [key: string]: unknown;
}

export interface ParamSpec {
  name: string;
  type: 'integer' | 'number' | 'boolean' | 'enum';
  min?: number;
  max?: number;
  default: number | boolean | string;
  description: string;
  values?: string[];
}

export interface Strategy {
  name: string;
  description: string;
  params: ParamSpec[];
}

export interface Schedule {
  id: string;
  name: string;
  cron: string;
  timezone: string;
  paused?: boolean;
  enabled?: boolean;
  status?: string;
  overlapPolicy?: string;
  maxRunsPerWindow?: { count: number; window: string } | null;
  catchupWindowSeconds?: number | null;
  template: Record<string, unknown>;
  nextFireTimes?: string[];
  lastFiredAt?: string | null;
  lastRunId?: string | null;
  [key: string]: unknown;
}

export interface DashboardConfig {
  traceUrlTemplate: string;
}

export function request<T>(
  method: string,
  url: string,
  body?: unknown,
  headers: Record<string, string> = {},
): Promise<T> {
  return client.call<T>(method, url, { body, headers });
}

export const get = <T>(url: string): Promise<T> => request<T>('GET', url);
export const post = <T>(url: string, body?: unknown): Promise<T> => request<T>('POST', url, body ?? {});

export function query(params: Record<string, string | number | undefined | null>): string {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== null && v !== '') q.set(k, String(v));
  const s = q.toString();
  return s ? `?${s}` : '';
}

/**
 * GET with a validator: answers `undefined` when the server says 304 (nothing changed since
 * `etag`), so a list can refresh cheaply. Servers that send no ETag simply answer 200 each time.
 */
export async function getIfChanged<T>(
  url: string,
  etag: string | undefined,
): Promise<{ body: T; etag?: string } | undefined> {
  const res = await fetch(url, { headers: { ...authHeaders(), ...(etag ? { 'if-none-match': etag } : {}) } }).catch(
    () => {
      throw new RunForgeError(0, 'the gateway cannot be reached');
    },
  );
  if (res.status === 304) return undefined;
  if (res.status === 401) signOut(SESSION_ENDED);
  const text = await res.text();
  const parsed: unknown = text ? JSON.parse(text) : undefined;
  if (!res.ok) throw refusalOf(res.status, res.statusText, parsed);
  return { body: parsed as T, etag: res.headers.get('etag') ?? undefined };
}

/** Where a run is read when the live stream is down: any kind's run at `/api/runs/{id}`. */
export function statusUrl(id: string): string {
  return `/api/runs/${id}`;
}

/** Cancels a run of any kind. */
export function cancelUrl(id: string): string {
  return `/api/runs/${id}/cancel`;
}

/** A kind as `GET /api/kinds` describes it (what the kind filter and labels are built from). */
export interface KindInfo {
  name: string;
  source: 'builtin' | 'program';
  description: string;
  progressUnit: 'bars' | 'combinations' | 'percent';
}
