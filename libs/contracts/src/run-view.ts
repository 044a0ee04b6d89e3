import type { RunEvent, RunEventType, TrialOutcome } from './events';
import type { RunView } from './run-fields';
import { TERMINAL_STATUSES } from './run-vocabulary';

export interface FoldContext {
  /** Stream sequence of the event. */
  readonly seq: number;
  /** Trace id of the message (from `traceparent`), recorded from the request. */
  readonly traceId?: string;
  /**
   * For trial events: whether a trial id is seen for the first time. Counting is idempotent per
   * trial id, so a redelivered batch never counts twice; the caller knows the stored trials.
   * Without it every outcome counts (a fold over a history known to hold each trial once).
   */
  readonly firstSighting?: (trialId: string) => boolean;
}

/**
 * `strategy`, `params` and `dataset` of a run: the engine's own for a backtest or an optimization; a
 * program's or an energy model's run has no strategy of the engine's, and its kind stands in for it.
 */
function engineFieldsOf(
  d: Extract<RunEvent, { type: 'RunRequested' }>['data'],
): Pick<RunView, 'strategy' | 'params' | 'dataset'> {
  switch (d.kind) {
    case 'backtest':
      return { strategy: d.request.strategy, params: { ...d.request.params }, dataset: d.request.dataset };
    case 'optimization':
      return {
        strategy: d.request.strategy,
        params: { ...d.request.params, axes: d.request.axes },
        dataset: d.request.dataset,
      };
    case 'program':
      return { strategy: d.program, params: { ...d.request.params }, dataset: {} };
    case 'dmo':
    case 'rmo':
    case 'so':
      return {
        strategy: d.kind,
        params: { model_config: d.request.model_config, horizon: d.horizon },
        dataset: { data_source_id: d.request.data_source_id },
      };
    default: {
      const never: never = d;
      return never;
    }
  }
}

type RequestedData = Extract<RunEvent, { type: 'RunRequested' }>['data'];
/** A `RunRequested` payload of an energy model (DMO, RMO, SO). */
export type EnergyRunData = Extract<RequestedData, { kind: 'dmo' | 'rmo' | 'so' }>;

export function isEnergyRun(data: RequestedData): data is EnergyRunData {
  return data.kind === 'dmo' || data.kind === 'rmo' || data.kind === 'so';
}

/** The kind a request names: a built-in kind, or the program kind's own name. */
export function kindOf(data: Extract<RunEvent, { type: 'RunRequested' }>['data']): string {
  return data.kind === 'program' ? data.program : data.kind;
}

function percentOf(done: number, total: number): number {
  return total > 0 ? Math.min(100, Math.floor((done / total) * 100)) : 0;
}

function trialsPercent(view: RunView): number {
  return percentOf(view.completedCombinations + view.failedCombinations, view.totalCombinations ?? 0);
}

/** Start to end in ms; null for a run that never started (cancelled while pending). */
function durationOf(view: RunView): number | null {
  if (view.startedAt === null || view.completedAt === null) return null;
  return Math.max(0, Date.parse(view.completedAt) - Date.parse(view.startedAt));
}

function isStale(view: RunView, event: RunEvent): boolean {
  return event.attempt > 0 && event.attempt < view.attempt;
}

/**
 * Records progress at `at` (an event's time). Workers' clocks may disagree a little: an event that
 * reads earlier than the last progress moves nothing back and adds no wait.
 */
function progressed(next: RunView, at: string): void {
  const since = next.lastProgressAt ?? next.startedAt;
  const gap = since === null ? 0 : Date.parse(at) - Date.parse(since);
  if (gap > next.longestProgressGapMs) next.longestProgressGapMs = gap;
  if (next.lastProgressAt === null || gap > 0) next.lastProgressAt = at;
}

/**
 * The events after which `evolveRun` may leave a run in a terminal status: its three ends, and a
 * cancellation asked before any worker started the run. No other event ends a run (a unit test folds
 * every event type to hold this), so a batch without any of them cannot end one.
 */
export const RUN_ENDING_EVENT_TYPES: ReadonlySet<RunEventType> = new Set<RunEventType>([
  'RunCompleted',
  'RunFailed',
  'RunCancelled',
  'RunCancellationRequested',
]);

/**
 * `evolveRun` is the single definition of how events change a run (`RunView`, declared field by
 * field in run-fields.ts): the projection applies it live, the rebuild and verify commands replay
 * it, the gateway folds a run's `RunRequested` with it before the projection has caught up.
 * It never rejects a recorded fact; it ignores what no longer applies:
 * - terminal states are sticky (a late `RunStarted` after `Cancelled` changes nothing);
 * - fencing: an event from an attempt older than the newest seen attempt is ignored.
 */
export function evolveRun(view: RunView | undefined, event: RunEvent, ctx: FoldContext): RunView | undefined {
  if (event.type === 'RunRequested') {
    if (view) return view; // a redelivered request never resets a run
    const d = event.data;
    return {
      id: event.runId,
      kind: kindOf(d),
      status: 'Pending',
      ...engineFieldsOf(d),
      request: d.request as unknown as Record<string, unknown>,
      totalBars: d.totalBars,
      processedBars: 0,
      totalCombinations: d.kind === 'optimization' ? d.totalCombinations : null,
      completedCombinations: 0,
      failedCombinations: 0,
      attempt: 0,
      workerId: null,
      priority: d.request.priority,
      triggeredBy: d.triggeredBy,
      scheduleId: d.scheduleId ?? null,
      retryOf: d.retryOf ?? null,
      principal: d.principal ?? null,
      traceId: ctx.traceId ?? null,
      errorMessage: null,
      errorStackTrace: null,
      errorCode: null,
      failureReason: null,
      result: null,
      requestedAt: event.occurredAt,
      startedAt: null,
      completedAt: null,
      cancelRequestedAt: null,
      lastProgressAt: null,
      longestProgressGapMs: 0,
      updatedAt: event.occurredAt,
      lastSeq: ctx.seq,
      progress: 0,
      durationMs: null,
      logCount: 0,
    };
  }
  // Events of a run whose request we never saw (e.g. a stream trimmed by an operator) are ignored.
  if (!view) return undefined;
  if (ctx.seq <= view.lastSeq) return view; // already applied
  const next: RunView = { ...view, lastSeq: ctx.seq, updatedAt: event.occurredAt };
  const terminal = TERMINAL_STATUSES.has(view.status);

  switch (event.type) {
    case 'RunStarted': {
      if (terminal || isStale(view, event)) return next;
      if (event.attempt > view.attempt) next.processedBars = 0; // a new attempt starts over
      next.status = 'Running';
      next.attempt = event.attempt;
      next.workerId = event.data.workerId;
      next.totalBars = event.data.totalBars;
      next.startedAt = view.startedAt ?? event.occurredAt;
      return next;
    }
    case 'BarProgressed': {
      if (terminal || isStale(view, event)) return next;
      if (event.data.processedBars > view.processedBars) progressed(next, event.occurredAt);
      next.processedBars = event.data.processedBars;
      next.progress = percentOf(next.processedBars, next.totalBars);
      return next;
    }
    case 'RunProgressed': {
      if (terminal || isStale(view, event)) return next;
      const percent = Math.floor(event.data.percent);
      if (percent > view.progress) progressed(next, event.occurredAt);
      next.progress = percent;
      return next;
    }
    case 'TrialCompleted':
    case 'TrialFailed': {
      // Trials count whatever the attempt: a trial's identity (run + params) makes it count once.
      // Once the run has ended its counts are final: trials that were still running when it was
      // stopped (cancelled, maxFailedTrials) may report afterwards, and change nothing.
      if (terminal) return next;
      if (ctx.firstSighting && !ctx.firstSighting(event.data.trialId)) return next;
      if (event.type === 'TrialCompleted') next.completedCombinations += 1;
      else next.failedCombinations += 1;
      progressed(next, event.occurredAt);
      next.progress = trialsPercent(next);
      return next;
    }
    case 'TrialsRecorded': {
      if (terminal) return next;
      const counted = next.completedCombinations + next.failedCombinations;
      for (const o of event.data.outcomes) {
        if (ctx.firstSighting && !ctx.firstSighting(o.trialId)) continue;
        if (o.status === 'Completed') next.completedCombinations += 1;
        else next.failedCombinations += 1;
      }
      if (next.completedCombinations + next.failedCombinations > counted) progressed(next, event.occurredAt);
      next.progress = trialsPercent(next);
      return next;
    }
    case 'RunCompleted': {
      if (terminal || isStale(view, event)) return next;
      const d = event.data;
      next.status = 'Completed';
      next.result = d.result;
      if (d.processedBars !== undefined) next.processedBars = d.processedBars;
      next.completedAt = event.occurredAt;
      next.progress = 100;
      next.durationMs = durationOf(next);
      if (event.attempt > next.attempt) next.attempt = event.attempt;
      return next;
    }
    case 'RunFailed': {
      if (terminal || isStale(view, event)) return next;
      const d = event.data;
      next.status = 'Failed';
      next.errorMessage = d.errorMessage;
      next.errorStackTrace = d.errorStackTrace ?? null;
      next.errorCode = d.errorCode ?? null;
      next.failureReason = d.reason;
      if (d.processedBars !== undefined) next.processedBars = d.processedBars;
      next.completedAt = event.occurredAt;
      next.durationMs = durationOf(next);
      return next;
    }
    case 'RunCancellationRequested': {
      if (terminal) return next;
      next.cancelRequestedAt = view.cancelRequestedAt ?? event.occurredAt;
      // A run no worker has started is cancelled without ever starting.
      if (view.status === 'Pending') {
        next.status = 'Cancelled';
        next.completedAt = event.occurredAt;
        next.durationMs = durationOf(next);
      }
      return next;
    }
    case 'RunCancelled': {
      if (view.status !== 'Cancelled' && terminal) return next;
      if (isStale(view, event)) return next;
      const d = event.data;
      next.status = 'Cancelled';
      if (d.processedBars !== undefined) next.processedBars = d.processedBars;
      next.completedAt = view.status === 'Cancelled' ? view.completedAt : event.occurredAt;
      next.durationMs = durationOf(next);
      return next;
    }
    case 'RunAttemptAbandoned':
      return next;
    case 'RunLogged':
      next.logCount = view.logCount + 1;
      return next;
    default: {
      const never: never = event;
      return never;
    }
  }
}

/** The trial outcomes an event records (none for non-trial events), whichever form it takes. */
export function trialOutcomesOf(event: RunEvent): readonly TrialOutcome[] {
  if (event.type === 'TrialCompleted') return [{ ...event.data, status: 'Completed' }];
  if (event.type === 'TrialFailed') return [{ ...event.data, status: 'Failed' }];
  if (event.type === 'TrialsRecorded') return event.data.outcomes;
  return [];
}
