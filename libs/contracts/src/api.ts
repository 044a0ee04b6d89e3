import type { RunFieldName, RunView } from './run-fields';
import type { RunStatus } from './run-vocabulary';

export type { RunFieldName, RunView } from './run-fields';
export type { RunKind, RunStatus, TriggeredBy } from './run-vocabulary';
export type { Principal, Role } from './access-vocabulary';

/**
 * What the gateway's read endpoints answer, derived from `RUN_FIELDS` (run-fields.ts). The gateway's
 * controllers return these types and the dashboard reads them with `import type`: this file and the
 * two it imports stay free of runtime dependencies, so the browser can type-check against them.
 */

export interface Page<T> {
  items: T[];
  nextCursor: string | null;
}

/** `GET /api/runs` items: everything but the heavy fields (request, result, stack trace), in this order. */
export const RUN_SUMMARY_FIELDS = [
  'id',
  'kind',
  'status',
  'strategy',
  'params',
  'totalBars',
  'processedBars',
  'totalCombinations',
  'completedCombinations',
  'failedCombinations',
  'progress',
  'durationMs',
  'logCount',
  'attempt',
  'triggeredBy',
  'scheduleId',
  'retryOf',
  'principal',
  'failureReason',
  'errorMessage',
  'requestedAt',
  'startedAt',
  'completedAt',
  'updatedAt',
  'traceId',
] as const satisfies readonly RunFieldName[];
export type RunSummary = Pick<RunView, (typeof RUN_SUMMARY_FIELDS)[number]>;

/** The fields the status endpoints and the live stream are built from (see the gateway's RunReader). */
export const RUN_SNAPSHOT_FIELDS = [
  'id',
  'kind',
  'status',
  'strategy',
  'request',
  'totalBars',
  'processedBars',
  'totalCombinations',
  'completedCombinations',
  'failedCombinations',
  'progress',
  'durationMs',
  'attempt',
  'errorMessage',
  'errorStackTrace',
  'failureReason',
  'result',
  'requestedAt',
  'startedAt',
  'completedAt',
  'lastProgressAt',
  'longestProgressGapMs',
  'traceId',
  'scheduleId',
  'triggeredBy',
  'principal',
] as const satisfies readonly RunFieldName[];
export type RunSnapshot = Pick<RunView, (typeof RUN_SNAPSHOT_FIELDS)[number]>;

/** A completed trial as an optimization's result and progress show it (the best, the top list). */
export type TrialSummary = {
  trialId: string;
  index: number;
  params: Record<string, number | boolean | string>;
  metrics: Record<string, number>;
  score: number;
};

/** Failed trials of an optimization that failed the same way (same message template and frames). */
export type FailureGroup = {
  fingerprint: string;
  message: string;
  count: number;
  sampleTrialId: string;
};

/** The fields every view of an optimization adds to its run (status endpoint, details, live stream). */
export interface OptimizationProgressFields {
  /** The best completed trial so far (or of the result). */
  bestTrial?: TrialSummary;
  /** Failed trials grouped by kind, while running (once ended they are in `result.failures`). */
  failures?: FailureGroup[];
  /**
   * While running, from the rate observed since the run started. No `etaSeconds` while stalled: an
   * estimate from an average that a stall keeps lowering only grows, and would mislead.
   */
  etaSeconds?: number;
  trialsPerSecond?: number;
  /** While running: seconds since the latest trial outcome (since the start before the first). */
  secondsSinceProgress?: number;
  /** While running: no outcome for longer than the run's own pace allows. */
  stalled?: boolean;
  /** While running, once an outcome has arrived: the silence after which the run counts as stalled. */
  stallAfterSeconds?: number;
  /**
   * The coordinator's result once completed; for a run that ended otherwise (cancelled, stopped by
   * maxFailedTrials) one built from the trials it recorded, so the progress it reached is not lost.
   */
  result: RunView['result'];
}

/** `GET /api/runs/{id}/stream`, `event: snapshot`: a run, and an optimization's progress. */
export type StreamedRun = RunSnapshot & Partial<OptimizationProgressFields>;

/** One line of a run's log (`GET /api/runs/{id}/logs`, and the latest ones in a run's details). */
export interface RunLogLine {
  seq: number;
  level: string;
  message: string;
  context: Record<string, unknown> | null;
  attempt: number;
  occurredAt: string;
}

/** `GET /api/runs/{id}`: every field of the run, an optimization's progress, the latest log lines. */
export type RunDetails = RunView & Partial<Omit<OptimizationProgressFields, 'result'>> & { logs: RunLogLine[] };

/** Fields a status answer carries only once they are set (absent while null). */
type WhenSet<K extends RunFieldName> = { [P in K]?: NonNullable<RunView[P]> };
/** A failure's message, with its stack trace (which may be null) alongside. */
type FailureMessage = WhenSet<'errorMessage'> & Partial<Pick<RunView, 'errorStackTrace'>>;

/** `GET /api/backtests/{id}/status`. */
export type BacktestStatus = Pick<
  RunView,
  'id' | 'status' | 'totalBars' | 'processedBars' | 'progress' | 'requestedAt' | 'attempt' | 'traceId'
> &
  FailureMessage &
  WhenSet<'failureReason' | 'result' | 'startedAt' | 'completedAt' | 'durationMs' | 'principal'>;

/** `GET /api/optimizations/{id}/status`. */
export type OptimizationStatus = Pick<
  RunView,
  | 'id'
  | 'status'
  | 'completedCombinations'
  | 'failedCombinations'
  | 'totalBars'
  | 'progress'
  | 'requestedAt'
  | 'attempt'
  | 'traceId'
> & {
  /** 0 rather than null. */
  totalCombinations: number;
} & Omit<OptimizationProgressFields, 'result'> &
  FailureMessage &
  WhenSet<'lastProgressAt' | 'failureReason' | 'result' | 'startedAt' | 'completedAt' | 'durationMs' | 'principal'>;

/** One trial of an optimization (`GET /api/runs/{id}/trials`): a failed one carries message and stack. */
export interface TrialItem {
  trialId: string;
  index: number;
  status: 'Completed' | 'Failed';
  params: Record<string, unknown>;
  metrics?: Record<string, number>;
  score?: number | null;
  errorMessage?: string | null;
  errorStackTrace?: string | null;
  fingerprint?: string | null;
  durationMs: number;
  workerId: string;
  occurredAt: string;
}

/** `GET /api/runs/{id}/trials`: a page of trials and the run's counts. */
export type TrialsPage = Page<TrialItem> &
  Pick<RunView, 'totalCombinations' | 'completedCombinations' | 'failedCombinations'>;

/** One entry of a run's audit history: an event as stored, upcast to its current version. */
export interface RunHistoryEvent {
  readonly seq: number;
  readonly storedAt: string;
  readonly type: string;
  readonly version: number;
  readonly attempt: number;
  readonly occurredAt: string;
  readonly data: unknown;
}

/** `GET /api/runs/{id}/events`. */
export interface RunHistory {
  runId: string;
  events: RunHistoryEvent[];
}

/** `POST /api/{backtests|optimizations}/{id}/cancel`: 200 Cancelled, or 202 when the worker has not confirmed yet. */
export type CancelRunAnswer =
  { id: string; status: Extract<RunStatus, 'Cancelled'> } | { id: string; status: 'Cancelling'; message: string };

/** `POST /api/backtests` (202): the accepted run. */
export type SubmitBacktestAnswer = { id: string; status: Extract<RunStatus, 'Pending'>; totalBars: number };
/** `POST /api/optimizations` (202): the accepted run. */
export type SubmitOptimizationAnswer = {
  id: string;
  status: Extract<RunStatus, 'Pending'>;
  totalCombinations: number;
  totalBars: number;
};

/** `POST /api/runs/{id}/retry` (202): the new run, linked to the one it retries. */
export type RetryRunAnswer = { id: string; status: Extract<RunStatus, 'Pending'>; retryOf: string } & (
  Pick<SubmitBacktestAnswer, 'totalBars'> | Pick<SubmitOptimizationAnswer, 'totalCombinations'>
);

/** The energy models' kinds (`ENERGY_KINDS` in requests.ts lists them for the schemas). */
export type EnergyKind = 'dmo' | 'rmo' | 'so';

/** One interval of an energy model's plan: powers in MW over the interval, the state of charge at its end. */
export interface EnergyScheduleRow {
  t: number;
  start?: string | undefined;
  price: number;
  chargeMW: number;
  dischargeMW: number;
  socMWh: number;
  /** RMO: the committed day-ahead net position (discharge positive). */
  committedMW?: number | undefined;
  /** RMO: the intraday trade on top of it, sold positive, bought negative. */
  tradeMW?: number | undefined;
}

/**
 * An energy run's `result` (`RunCompleted`), in the seed's words where it has them
 * (`objective_value`, `solver_time_ms`, `results_count`).
 */
export interface EnergyResultAnswer {
  model: EnergyKind;
  solver_status: string;
  objective_value: number | null;
  solver_time_ms: number;
  results_count: number;
  mip_gap?: number | undefined;
  integer: boolean;
  schedule: EnergyScheduleRow[];
  setpoints?: EnergyScheduleRow[] | undefined;
  summary: Record<string, number>;
  notes: string[];
  /** RMO: the DMO run whose plan was the committed position (absent: none, re-planned against zero). */
  committed_from?: string | undefined;
}
