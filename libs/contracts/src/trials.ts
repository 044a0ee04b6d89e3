import { createHash } from 'node:crypto';
import type { Params } from '@runforge/engine';

/** Canonical JSON of a parameter set (sorted keys), the input of a trial's identity. */
function canonical(params: Params): string {
  return JSON.stringify(
    Object.keys(params)
      .sort()
      .map((k) => [k, params[k]]),
  );
}

/**
 * A trial's id is derived from the run and its parameters, so a grid point can never run or count
 * twice, whatever the batches, attempts or redeliveries.
 */
export function trialId(runId: string, params: Params): string {
  return `${runId}-${createHash('sha256').update(canonical(params)).digest('hex').slice(0, 16)}`;
}

/**
 * The engine's entry points as they appear in a stack frame. A stack is cut after the first of them:
 * the frames below are the host's (a batch's first trial runs stepped, the others in one call), and
 * the same failure must group as one whichever way its trial ran.
 */
const ENGINE_ENTRY_FRAME = /^at (runBacktest|new Backtest|Backtest\.(step|result)) /;

/**
 * Groups failures that share a cause: the message with numbers and quoted values blanked out, plus
 * the top stack frames without line numbers, down to where the engine was called ("37 trials failed
 * with X").
 */
export function errorFingerprint(
  message: string,
  stack: string | undefined,
): { fingerprint: string; template: string } {
  const template = message
    .replace(/"[^"]*"|'[^']*'/g, '"…"')
    .replace(/-?\d+(\.\d+)?(e[+-]?\d+)?/gi, '#')
    .slice(0, 300);
  const all = (stack ?? '')
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l.startsWith('at '));
  const entry = all.findIndex((l) => ENGINE_ENTRY_FRAME.test(l));
  const frames = all
    .slice(0, entry >= 0 ? Math.min(entry + 1, 3) : 3)
    .map((l) => l.replace(/:\d+:\d+\)?$/, '').replace(/\(.*[\\/]/, '('));
  const fingerprint = createHash('sha1')
    .update([template, ...frames].join('\n'))
    .digest('hex')
    .slice(0, 12);
  return { fingerprint, template };
}
