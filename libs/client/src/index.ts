export { RunForgeClient, queryString, type ClientOptions, type FollowOptions, type WatchOptions } from './client';
export { RunForgeError, refusalOf, type FieldIssue } from './errors';
export { METRIC_LABELS, formatDuration, formatMetric, metricLabel, type MetricLabel, type MetricUnit } from './labels';
export { progressOf, shortId, type Progress } from './progress';
export { serverSentEvents } from './sse';
export * from './types';
export type {
  CancelRunAnswer,
  Page,
  RetryRunAnswer,
  RunDetails,
  RunHistory,
  RunHistoryEvent,
  RunLogLine,
  RunStatus,
  RunSummary,
  StreamedRun,
  TrialItem,
  TrialsPage,
} from '@runforge/contracts';
