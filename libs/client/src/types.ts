/**
 * Answers of the gateway that libs/contracts does not declare (the schedules', datasets' and kinds'
 * endpoints answer shapes owned by their libs, which hold server code). Kept to what clients read.
 */
import type { RunStatus } from '@runforge/contracts';

export type LogLevel = 'DEBUG' | 'INFO' | 'WARNING' | 'ERROR';
export const LOG_LEVELS: readonly LogLevel[] = ['DEBUG', 'INFO', 'WARNING', 'ERROR'];

export const RUN_STATUSES: readonly RunStatus[] = ['Pending', 'Running', 'Completed', 'Failed', 'Cancelled'];
const TERMINAL: ReadonlySet<string> = new Set<RunStatus>(['Completed', 'Failed', 'Cancelled']);

/** Has the run ended (Completed, Failed or Cancelled)? */
export function isTerminal(status: string): boolean {
  return TERMINAL.has(status);
}

/** `POST /api/runs` (202): the accepted run and what its kind adds (`totalBars`, `totalCombinations`, `intervals`…). */
export interface SubmitAnswer {
  readonly id: string;
  readonly kind: string;
  readonly status: 'Pending';
  readonly [extra: string]: string | number;
}

/** `GET /api/runs` filters: several values of kind or status mean "any of". */
export interface RunFilters {
  kind?: string | readonly string[];
  status?: RunStatus | readonly RunStatus[];
  strategy?: string | readonly string[];
  triggeredBy?: 'api' | 'schedule' | 'manual';
  /** Failed runs by `failureReason`, e.g. `attempts_exhausted` (dead letters). */
  reason?: string;
  scheduleId?: string;
  dataSourceId?: string;
  /** Requested at or after this instant (ISO-8601). */
  from?: string;
  /** Requested before this instant (ISO-8601). */
  to?: string;
  limit?: number;
  cursor?: string;
}

export interface LogFilters {
  /** Minimum severity: `WARNING` answers WARNING and ERROR lines. */
  level?: LogLevel;
  limit?: number;
  cursor?: string;
}

export type TrialSort = 'index' | '-index' | 'score' | '-score' | 'duration' | '-duration';
export interface TrialFilters {
  status?: 'Completed' | 'Failed';
  sort?: TrialSort;
  limit?: number;
  cursor?: string;
}

/** `GET /api/kinds` items. */
export interface KindInfo {
  name: string;
  source: 'builtin' | 'program';
  description: string;
  progressUnit: 'bars' | 'combinations' | 'percent';
  requestSchema?: unknown;
  policies?: Record<string, unknown>;
}

/** A schedule as `GET /api/schedules` lists it. */
export interface Schedule {
  id: string;
  name: string;
  cron: string;
  timezone: string;
  overlapPolicy: 'skip' | 'allow' | 'cancel-previous';
  maxRunsPerWindow: { count: number; window: string } | null;
  catchupWindowSeconds: number;
  paused: boolean;
  template: Record<string, unknown>;
  createdAt: string;
  updatedAt: string;
  nextFireTimes: string[];
}

/** A fire of a schedule and what came of it (a run, or the reason there was none). */
export interface ScheduleFire {
  fireTime: string;
  triggeredBy: 'schedule' | 'manual';
  outcome: 'started' | 'skipped' | 'limited' | 'missed';
  reason: string | null;
  runId?: string;
  decidedAt: string;
}

/** `GET /api/schedules/{id}`, and the answer of pause/resume. */
export type ScheduleDetails = Schedule & {
  recentFires: ScheduleFire[];
  lastRuns: {
    id: string;
    kind: string;
    status: string;
    triggeredBy: string;
    requestedAt: string;
    completedAt: string | null;
  }[];
};

/** `POST /api/schedules/{id}/trigger` (202). */
export interface TriggerAnswer {
  id: string;
  status: 'Pending';
  scheduleId: string;
  triggeredBy: 'manual';
  cancelled: readonly string[];
}

/** An uploaded OHLCV dataset. */
export interface Dataset {
  id: string;
  symbol: string;
  name: string | null;
  timeframe: string;
  bars: number;
  firstTime: string;
  lastTime: string;
  checksum: string;
  uploadedAt: string;
}

export interface UploadOptions {
  symbol: string;
  timeframe?: string;
  name?: string;
}
