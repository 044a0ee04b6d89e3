/** Typed access to the gateway's REST API (same origin). Every failure becomes an ApiError. */

export type RunStatus = 'Pending' | 'Running' | 'Completed' | 'Failed' | 'Cancelled';
export type RunKind = 'backtest' | 'optimization';
export const RUN_STATUSES: readonly RunStatus[] = ['Pending', 'Running', 'Completed', 'Failed', 'Cancelled'];
export const TERMINAL: ReadonlySet<string> = new Set(['Completed', 'Failed', 'Cancelled']);

export interface FieldIssue {
  field: string;
  reason: string;
}

export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly issues: readonly FieldIssue[] = [],
  ) {
    super(message);
  }
}

/** A run as the stream, the details and the list endpoints answer it (fields beyond the list's are optional). */
export interface Run {
  id: string;
  kind: RunKind;
  status: RunStatus;
  strategy: string;
  params?: Record<string, unknown>;
  totalBars: number;
  processedBars: number;
  totalCombinations: number | null;
  completedCombinations: number;
  failedCombinations: number;
  attempt: number;
  errorMessage?: string | null;
  errorStackTrace?: string | null;
  failureReason?: string | null;
  result?: RunResult | null;
  requestedAt: string;
  startedAt?: string | null;
  completedAt?: string | null;
  traceId?: string | null;
  scheduleId?: string | null;
  triggeredBy?: string;
  request?: Record<string, unknown>;
  logs?: LogLine[];
  /** Optimizations: the best trial so far, failures grouped by kind while running, the ETA. */
  bestTrial?: TrialSummary;
  failures?: FailureGroup[];
  etaSeconds?: number;
  trialsPerSecond?: number;
  /** When the run last made progress (bars, or a trial outcome); null before. */
  lastProgressAt?: string | null;
  /** Optimizations while Running: whether no outcome has come for too long. */
  secondsSinceProgress?: number;
  stalled?: boolean;
  stallAfterSeconds?: number;
}

/** An uploaded OHLCV dataset (`GET /api/datasets`). */
export interface Dataset {
  id: string;
  symbol: string;
  name: string | null;
  timeframe: string;
  bars: number;
  firstTime: string;
  lastTime: string;
  uploadedAt: string;
}

/** Failed trials of an optimization that failed the same way (same message template and frames). */
export interface FailureGroup {
  fingerprint: string;
  message: string;
  count: number;
  sampleTrialId: string;
}

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

export interface TrialSummary {
  params?: Record<string, unknown>;
  score?: number | null;
  metrics?: Record<string, number>;
  [key: string]: unknown;
}

export interface Trial {
  trialId: string;
  index: number;
  params: Record<string, unknown>;
  status: string;
  metrics?: Record<string, number> | null;
  score?: number | null;
  errorMessage?: string | null;
  errorStackTrace?: string | null;
}

export interface LogLine {
  seq: number;
  level: string;
  message: string;
  context?: Record<string, unknown> | null;
  attempt?: number;
  occurredAt: string;
}

export interface HistoryEvent {
  seq?: number;
  type: string;
  occurredAt?: string;
  attempt?: number;
  data?: unknown;
  [key: string]: unknown;
}

export interface Page<T> {
  items: T[];
  nextCursor: string | null;
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

function messageOf(body: unknown, fallback: string): { message: string; issues: FieldIssue[] } {
  if (body && typeof body === 'object') {
    const b = body as { message?: unknown; issues?: unknown };
    const issues = Array.isArray(b.issues) ? (b.issues as FieldIssue[]) : [];
    return { message: typeof b.message === 'string' ? b.message : fallback, issues };
  }
  return { message: fallback, issues: [] };
}

export async function request<T>(
  method: string,
  url: string,
  body?: unknown,
  headers: Record<string, string> = {},
): Promise<T> {
  let res: Response;
  try {
    res = await fetch(url, {
      method,
      headers: body === undefined ? headers : { 'content-type': 'application/json', ...headers },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch {
    throw new ApiError(0, 'the gateway cannot be reached');
  }
  const text = await res.text();
  let parsed: unknown = undefined;
  try {
    parsed = text ? JSON.parse(text) : undefined;
  } catch {
    parsed = text;
  }
  if (!res.ok) {
    const { message, issues } = messageOf(parsed, `${res.status} ${res.statusText}`);
    throw new ApiError(res.status, message, issues);
  }
  return parsed as T;
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
  const res = await fetch(url, { headers: etag ? { 'if-none-match': etag } : {} }).catch(() => {
    throw new ApiError(0, 'the gateway cannot be reached');
  });
  if (res.status === 304) return undefined;
  const text = await res.text();
  const parsed: unknown = text ? JSON.parse(text) : undefined;
  if (!res.ok) {
    const { message, issues } = messageOf(parsed, `${res.status} ${res.statusText}`);
    throw new ApiError(res.status, message, issues);
  }
  return { body: parsed as T, etag: res.headers.get('etag') ?? undefined };
}

/** The status endpoint of a run's kind (used when the live stream is down). */
export function statusUrl(kind: RunKind, id: string): string {
  return kind === 'backtest' ? `/api/backtests/${id}/status` : `/api/optimizations/${id}/status`;
}

export function cancelUrl(kind: RunKind, id: string): string {
  return kind === 'backtest' ? `/api/backtests/${id}/cancel` : `/api/optimizations/${id}/cancel`;
}
