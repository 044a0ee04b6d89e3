/**
 * Stream, subject and consumer layout, built once from a namespace so that every service,
 * test run and CLI recipe agrees on the names. The default namespace ('') gives the names
 * documented in docs/operations.md (`RUNS`, `runs.<runId>.<event>`); a test run passes its own
 * namespace (e.g. `t1a2b`) and gets `RUNS_t1a2b` / `t1a2b.runs.<runId>.<event>`, so concurrent
 * runs never see each other's messages.
 */

const NAMESPACE_RE = /^[a-z0-9]{1,24}$/;

export interface StreamSpec {
  readonly name: string;
  readonly subjects: readonly string[];
}

export interface ConsumerSpec {
  readonly stream: string;
  readonly durable: string;
  readonly filterSubject: string;
}

export interface Topology {
  readonly namespace: string;
  readonly streams: { readonly runs: StreamSpec; readonly work: StreamSpec; readonly schedules: StreamSpec };
  readonly consumers: {
    /**
     * Engine workers take runs to execute from these (durable pull consumers on the work-queue
     * stream, shared by all workers): one per priority, high first.
     */
    readonly engineHigh: ConsumerSpec;
    readonly engineNormal: ConsumerSpec;
    /** The projection folds every event of `RUNS` into Postgres. */
    readonly projection: ConsumerSpec;
    /** Optimization trial batches, shared by every worker (work-queue stream). */
    readonly trials: ConsumerSpec;
    /** Schedule changes, shared by the scheduler replicas (any one re-plans at once). */
    readonly scheduler: ConsumerSpec;
  };
  /** `runs.<runId>.<event>` */
  runSubject(runId: string, eventToken: string): string;
  /** `runs.<runId>.>`: a run's whole history. */
  runHistorySubject(runId: string): string;
  /** `runs.*.<event>`: one event type across all runs. */
  anyRunSubject(eventToken: string): string;
  /** `work.trials.<runId>` */
  trialWorkSubject(runId: string): string;
  /** `work.runs.<priority>`: the dispatch of a run to the engine workers. */
  runDispatchSubject(priority: 'high' | 'normal'): string;
  /** `work.runs.*`: every dispatch (idle workers listen to wake up). */
  anyRunDispatchSubject(): string;
  /**
   * `ctl.runs.<runId>.abort`: core NATS (not stored) — a coordinator tells every worker to stop a
   * run's trials (stop rule). User cancellation travels as `RunCancellationRequested` on `RUNS`.
   */
  runAbortSubject(runId: string): string;
  anyRunAbortSubject(): string;
  /**
   * `ctl.runs.<runId>.trials_settled`: core NATS (not stored) — a worker tells the run's coordinator
   * that a trial batch's outcomes are stored (`TrialBatchSettled`).
   */
  runTrialsSettledSubject(runId: string): string;
  anyRunTrialsSettledSubject(): string;
  /** `schedules.<scheduleId>.<change>`: a schedule changed through the API (audit, and the scheduler's cue). */
  scheduleChangeSubject(scheduleId: string, change: string): string;
  /** Object store bucket for uploaded datasets. */
  readonly datasetBucket: string;
  /** Key-value bucket for idempotency keys and similar small durable state. */
  readonly idempotencyBucket: string;
  /** Key-value bucket of run-window claims (`maxRunsPerWindow` of a job kind): one key per slot of a window. */
  readonly runWindowBucket: string;
  /** Object store bucket for the energy models' data sources (price series + asset). */
  readonly energySourceBucket: string;
  /** Key-value bucket for committed day-ahead positions (`<sourceId>.<delivery date>`, written by DMO, read by RMO). */
  readonly energyPositionBucket: string;
}

export function topology(namespace = ''): Topology {
  if (namespace !== '' && !NAMESPACE_RE.test(namespace)) {
    throw new Error(`namespace must match ${NAMESPACE_RE.source}, got "${namespace}"`);
  }
  const p = namespace ? `${namespace}.` : '';
  const s = namespace ? `_${namespace}` : '';
  const runsStream = `RUNS${s}`;
  const workStream = `WORK${s}`;
  const schedulesStream = `SCHEDULES${s}`;
  return {
    namespace,
    streams: {
      runs: { name: runsStream, subjects: [`${p}runs.>`] },
      work: { name: workStream, subjects: [`${p}work.>`] },
      schedules: { name: schedulesStream, subjects: [`${p}schedules.>`] },
    },
    consumers: {
      engineHigh: { stream: workStream, durable: 'engine-high', filterSubject: `${p}work.runs.high` },
      engineNormal: { stream: workStream, durable: 'engine-normal', filterSubject: `${p}work.runs.normal` },
      projection: { stream: runsStream, durable: 'projection', filterSubject: `${p}runs.>` },
      trials: { stream: workStream, durable: 'trials', filterSubject: `${p}work.trials.>` },
      scheduler: { stream: schedulesStream, durable: 'scheduler', filterSubject: `${p}schedules.>` },
    },
    runSubject: (runId, eventToken) => `${p}runs.${runId}.${eventToken}`,
    runHistorySubject: (runId) => `${p}runs.${runId}.>`,
    anyRunSubject: (eventToken) => `${p}runs.*.${eventToken}`,
    trialWorkSubject: (runId) => `${p}work.trials.${runId}`,
    runDispatchSubject: (priority) => `${p}work.runs.${priority}`,
    anyRunDispatchSubject: () => `${p}work.runs.*`,
    runAbortSubject: (runId) => `${p}ctl.runs.${runId}.abort`,
    anyRunAbortSubject: () => `${p}ctl.runs.*.abort`,
    runTrialsSettledSubject: (runId) => `${p}ctl.runs.${runId}.trials_settled`,
    anyRunTrialsSettledSubject: () => `${p}ctl.runs.*.trials_settled`,
    scheduleChangeSubject: (scheduleId, change) => `${p}schedules.${scheduleId}.${change}`,
    datasetBucket: `datasets${s}`,
    idempotencyBucket: `idempotency${s}`,
    runWindowBucket: `runwindows${s}`,
    energySourceBucket: `energy-sources${s}`,
    energyPositionBucket: `energy-positions${s}`,
  };
}

/** Extracts `<runId>` and `<event>` from a run subject of this topology. */
export function parseRunSubject(t: Topology, subject: string): { runId: string; eventToken: string } | undefined {
  const parts = subject.split('.');
  const offset = t.namespace ? 1 : 0;
  if (parts.length !== 3 + offset || parts[offset] !== 'runs') return undefined;
  const runId = parts[offset + 1];
  const eventToken = parts[offset + 2];
  return runId && eventToken ? { runId, eventToken } : undefined;
}
