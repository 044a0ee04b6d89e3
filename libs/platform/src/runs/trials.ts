import { createHash } from 'node:crypto';
import type { Params } from '@runforge/engine';

/** Canonical JSON of a parameter set (sorted keys), the input of a trial's identity. */
function canonical(params: Params): string {
  return JSON.stringify(Object.keys(params).sort().map((k) => [k, params[k]]));
}

/**
 * A trial's id is derived from the run and its parameters, so a grid point can never run or count
 * twice, whatever the batches, attempts or redeliveries.
 */
export function trialId(runId: string, params: Params): string {
  return `${runId}-${createHash('sha256').update(canonical(params)).digest('hex').slice(0, 16)}`;
}

/**
 * Groups failures that share a cause: the message with numbers and quoted values blanked out, plus
 * the top stack frames without line numbers ("37 trials failed with X").
 */
export function errorFingerprint(message: string, stack: string | undefined): { fingerprint: string; template: string } {
  const template = message
    .replace(/"[^"]*"|'[^']*'/g, '"…"')
    .replace(/-?\d+(\.\d+)?(e[+-]?\d+)?/gi, '#')
    .slice(0, 300);
  const frames = (stack ?? '')
    .split('\n')
    .filter((l) => l.trim().startsWith('at '))
    .slice(0, 3)
    .map((l) => l.trim().replace(/:\d+:\d+\)?$/, '').replace(/\(.*[\\/]/, '('));
  const fingerprint = createHash('sha1').update([template, ...frames].join('\n')).digest('hex').slice(0, 12);
  return { fingerprint, template };
}
