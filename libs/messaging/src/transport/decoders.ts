import {
  ContractError,
  decodeEvent,
  decodeRunDispatch,
  decodeScheduleChanged,
  decodeTrialBatch,
  EVENTS,
} from '@runforge/contracts';

/**
 * How the payload of a pattern is decoded and validated before its handler sees it: the work
 * messages and every run event by their contract; a subject pattern (`runs.>`) decodes each message
 * as whichever run event it is; anything else (a control subject) is handed over as text.
 */
export function decoderFor(pattern: string): (raw: Uint8Array) => unknown {
  if (pattern === 'RunDispatch') return (raw) => decodeRunDispatch(json(raw));
  if (pattern === 'TrialBatch') return (raw) => decodeTrialBatch(json(raw));
  if (pattern === 'ScheduleChanged') return (raw) => decodeScheduleChanged(json(raw));
  if ((EVENTS as readonly { type: string }[]).some((d) => d.type === pattern)) {
    return (raw) => {
      const event = decodeEvent(json(raw));
      if (event.type !== pattern)
        throw new ContractError('UNEXPECTED_EVENT_TYPE', `expected ${pattern}, got ${event.type}`);
      return event;
    };
  }
  if (pattern.startsWith('runs.')) return (raw) => decodeEvent(json(raw));
  return (raw) => new TextDecoder().decode(raw);
}

function json(raw: Uint8Array): unknown {
  return JSON.parse(new TextDecoder().decode(raw)) as unknown;
}
