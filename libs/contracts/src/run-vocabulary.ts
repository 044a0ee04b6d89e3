/**
 * The words a run is described with. Plain constants with no imports, so the browser (the
 * dashboard, `import type` only) and the request schemas (`requests.ts`) read the same lists.
 */

export const RUN_KINDS = ['backtest', 'optimization'] as const;
export type RunKind = (typeof RUN_KINDS)[number];

export const TRIGGERED_BY = ['api', 'schedule', 'manual'] as const;
export type TriggeredBy = (typeof TRIGGERED_BY)[number];

export const RUN_STATUSES = ['Pending', 'Running', 'Completed', 'Failed', 'Cancelled'] as const;
export type RunStatus = (typeof RUN_STATUSES)[number];
export const TERMINAL_STATUSES: ReadonlySet<RunStatus> = new Set(['Completed', 'Failed', 'Cancelled']);
