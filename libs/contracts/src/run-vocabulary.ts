/**
 * The words a run is described with. Plain constants with no imports, so the browser (the
 * dashboard, `import type` only) and the request schemas (`requests.ts`) read the same lists.
 */

/** The built-in kinds of the trading engine. */
export const RUN_KINDS = ['backtest', 'optimization'] as const;
export type BuiltinKind = (typeof RUN_KINDS)[number];
/**
 * A run's kind as the API, the read model and listings name it: a built-in kind, or a program kind
 * declared in the workers' configuration (`RUNFORGE_PROGRAM_KINDS`), e.g. `battery-dp`.
 */
export type RunKind = string;
/** What a kind's name may look like (the name of a program kind must not be a built-in one's). */
export const KIND_NAME_PATTERN = '^[a-z][a-z0-9-]{1,40}$';
/** A kind's progress counts bars (backtest), combinations (optimization) or percent (a program's own). */
export const PROGRESS_UNITS = ['bars', 'combinations', 'percent'] as const;
export type ProgressUnit = (typeof PROGRESS_UNITS)[number];

export const TRIGGERED_BY = ['api', 'schedule', 'manual'] as const;
export type TriggeredBy = (typeof TRIGGERED_BY)[number];

export const RUN_STATUSES = ['Pending', 'Running', 'Completed', 'Failed', 'Cancelled'] as const;
export type RunStatus = (typeof RUN_STATUSES)[number];
export const TERMINAL_STATUSES: ReadonlySet<RunStatus> = new Set(['Completed', 'Failed', 'Cancelled']);
