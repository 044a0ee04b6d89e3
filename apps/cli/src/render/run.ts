import {
  METRIC_LABELS,
  formatMetric,
  metricLabel,
  progressOf,
  type Progress,
  type RunDetails,
  type RunLogLine,
  type StreamedRun,
} from '@runforge/client';
import { count, instant, keyValues, millis, truncate, wrap, WIDTH } from './text';

/** What a unit of progress is called. */
const UNIT_NAMES: Record<Progress['unit'], string> = { bars: 'bars', combinations: 'trials', percent: '%' };

/** A run's speed, measured from the snapshots a watch sees. */
export interface Pace {
  /** Units (bars, trials, percent points) per second. */
  rate?: number;
  /** Seconds left at that rate. */
  etaSeconds?: number;
}

/**
 * Measures a run's pace from its progress over time: the rate since the first sample that showed
 * it running (an optimization's own `trialsPerSecond` and `etaSeconds` are taken when it has them).
 */
export class PaceMeter {
  private first?: { at: number; done: number };

  sample(run: StreamedRun, at: number): Pace {
    if (run.trialsPerSecond !== undefined || run.etaSeconds !== undefined) {
      return { rate: run.trialsPerSecond, etaSeconds: run.etaSeconds };
    }
    const p = progressOf(run);
    if (run.status !== 'Running') return {};
    if (!this.first) {
      this.first = { at, done: p.done };
      return {};
    }
    const seconds = (at - this.first.at) / 1000;
    if (seconds <= 0 || p.done <= this.first.done) return {};
    const rate = (p.done - this.first.done) / seconds;
    return { rate, etaSeconds: (p.total - p.done) / rate };
  }
}

function seconds(s: number | undefined): string {
  if (s === undefined || !Number.isFinite(s)) return '';
  if (s < 1) return '< 1 s';
  return millis(Math.round(s) * 1000).replace(/\.0 s$/, ' s');
}

/** The figures beside the bar: "450/1,000 trials | 12.3/s | ETA 40 s | 3 failed" (at most ~50 columns). */
export function progressDetail(run: StreamedRun, pace: Pace): string {
  const p = progressOf(run);
  const parts: string[] = [];
  // A percent is already beside the bar: other units say their count.
  if (p.unit !== 'percent') parts.push(`${count(p.done)}/${count(p.total)} ${UNIT_NAMES[p.unit]}`);
  if (pace.rate !== undefined && Number.isFinite(pace.rate) && pace.rate > 0) {
    const rate = pace.rate >= 100 ? count(pace.rate) : pace.rate.toFixed(1);
    parts.push(`${rate}${p.unit === 'percent' ? '%' : ''}/s`);
  }
  if (run.stalled) parts.push('stalled');
  else if (pace.etaSeconds !== undefined && Number.isFinite(pace.etaSeconds))
    parts.push(`ETA ${seconds(pace.etaSeconds)}`);
  if (p.failed > 0) parts.push(`${count(p.failed)} failed`);
  return parts.join(' | ');
}

/** One plain line per change, for output that is not a terminal: "Running  45%  450/1,000 trials | …". */
export function progressLine(run: StreamedRun, pace: Pace): string {
  const p = progressOf(run);
  return truncate(
    `${run.status.padEnd(9)} ${String(p.percent).padStart(3)}%  ${progressDetail(run, pace)}`.trimEnd(),
    WIDTH,
  );
}

/** The lines that end a watch: how the run ended and what it produced. */
export function endSummary(run: StreamedRun): string {
  const took = run.durationMs !== null && run.durationMs !== undefined ? ` in ${millis(run.durationMs)}` : '';
  const head = `${run.status}${took}: ${run.kind} ${run.id}`;
  const lines = [head];
  if (run.status === 'Failed') {
    lines.push(wrap(`error: ${run.errorMessage ?? 'no message'}`, WIDTH, '  '));
    if (run.failureReason) lines.push(`reason: ${run.failureReason}`);
    lines.push(`logs: runforge logs ${run.id} --level WARNING`);
  } else if (run.status === 'Cancelled') {
    lines.push(`cancelled at ${progressOf(run).percent}%`);
  }
  const result = resultLines(run);
  if (result) lines.push(result);
  return lines.join('\n');
}

/** A result's figures by kind: a backtest's metrics, an optimization's best trial, an energy plan's objective, a program's output. */
export function resultLines(run: Pick<StreamedRun, 'kind' | 'result' | 'bestTrial'>): string | undefined {
  const result = run.result as Record<string, unknown> | null | undefined;
  const best = (result?.best as StreamedRun['bestTrial'] | undefined) ?? run.bestTrial;
  if (run.kind === 'optimization' && best) {
    const objective = result?.objective as { metric?: string; direction?: string } | undefined;
    const metric = objective?.metric ?? 'score';
    return keyValues([
      ['Best trial', `#${best.index} ${paramsText(best.params)}`],
      [metricLabel(metric), formatMetric(metric, best.score)],
      ...metricPairs(best.metrics).filter(([label]) => label !== metricLabel(metric)),
    ]);
  }
  if (!result) return undefined;
  if (result.metrics && typeof result.metrics === 'object')
    return keyValues(metricPairs(result.metrics as Record<string, number>));
  if ('objective_value' in result) {
    const energy = ['solver_status', 'objective_value', 'solver_time_ms', 'results_count', 'mip_gap'].filter(
      (k) => k in result,
    );
    const summary = (result.summary as Record<string, number> | undefined) ?? {};
    return keyValues([
      ...energy.map((k): [string, string] => [
        k === 'solver_status' ? 'Solver status' : metricLabel(k),
        formatMetric(k, result[k]),
      ]),
      ...metricPairs(summary),
    ]);
  }
  if ('output' in result) return keyValues(outputPairs(result.output));
  return keyValues([['Result', truncate(JSON.stringify(result), 400)]]);
}

/** A program's output: its top-level fields, lists by their length, the rest as short JSON. */
function outputPairs(output: unknown): [string, string][] {
  if (output === null || typeof output !== 'object' || Array.isArray(output))
    return [['Output', truncate(JSON.stringify(output) ?? '–', 200)]];
  return Object.entries(output as Record<string, unknown>).map(([k, v]): [string, string] => {
    if (Array.isArray(v)) return [metricLabel(k), `${count(v.length)} items (--json for all)`];
    if (v !== null && typeof v === 'object') return [metricLabel(k), truncate(JSON.stringify(v), 120)];
    return [metricLabel(k), formatMetric(k, v)];
  });
}

/** The table's order first (return, risk, trades…), then any metric it does not know. */
const METRIC_ORDER = Object.keys(METRIC_LABELS);
const rank = (name: string): number => {
  const at = METRIC_ORDER.indexOf(name);
  return at < 0 ? METRIC_ORDER.length : at;
};

function metricPairs(metrics: Record<string, number> | undefined): [string, string][] {
  return Object.entries(metrics ?? {})
    .sort(([a], [b]) => rank(a) - rank(b))
    .map(([k, v]) => [metricLabel(k), formatMetric(k, v)]);
}

/** `fast=5 slow=20`. */
export function paramsText(params: Record<string, unknown> | null | undefined): string {
  return Object.entries(params ?? {})
    .map(([k, v]) => `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`)
    .join(' ');
}

/** Everything `runforge show` says about a run. */
export function runDetails(run: RunDetails): string {
  const p = progressOf(run);
  const progress =
    p.unit === 'percent'
      ? `${p.percent}%`
      : `${count(p.done)} / ${count(p.total)} ${UNIT_NAMES[p.unit]} (${p.percent}%)`;
  const pairs: [string, string][] = [
    ['Id', run.id],
    ['Kind', run.kind + (run.strategy ? ` (${run.strategy})` : '')],
    ['Status', run.status + (run.failureReason ? ` (${run.failureReason})` : '')],
    ['Progress', progress + (p.failed ? `, ${count(p.failed)} failed` : '')],
  ];
  if (Object.keys(run.params ?? {}).length > 0) pairs.push(['Params', paramsText(run.params)]);
  pairs.push(['Requested', `${instant(run.requestedAt)} (${run.triggeredBy})`]);
  if (run.startedAt) pairs.push(['Started', instant(run.startedAt)]);
  if (run.completedAt) pairs.push(['Ended', instant(run.completedAt)]);
  if (run.durationMs !== null) pairs.push(['Duration', millis(run.durationMs)]);
  pairs.push(['Attempt', String(run.attempt)]);
  if (run.scheduleId) pairs.push(['Schedule', run.scheduleId]);
  if (run.retryOf) pairs.push(['Retry of', run.retryOf]);
  if (run.errorMessage) pairs.push(['Error', run.errorMessage]);
  if (run.etaSeconds !== undefined) pairs.push(['ETA', seconds(run.etaSeconds)]);
  if (run.traceId) pairs.push(['Trace', run.traceId]);
  const parts = [keyValues(pairs)];
  const result = resultLines(run);
  if (result) parts.push(`\nResult\n${indent(result)}`);
  if (run.logs.length > 0) {
    const latest = run.logs.slice(-5);
    parts.push(
      `\nLatest logs (runforge logs ${run.id})\n${indent(latest.map((l) => logLine(l, WIDTH - 2)).join('\n'))}`,
    );
  }
  return parts.join('\n');
}

function indent(text: string): string {
  return text
    .split('\n')
    .map((l) => `  ${l}`)
    .join('\n');
}

/** "14:03:19.123 WARNING message", wrapped under the message. */
export function logLine(line: RunLogLine, width = WIDTH): string {
  const time = line.occurredAt.slice(11, 23);
  const head = `${time} ${line.level.padEnd(7)} `;
  return `${head}${wrap(line.message, width - head.length, '').replace(/\n/g, `\n${' '.repeat(head.length)}`)}`;
}
