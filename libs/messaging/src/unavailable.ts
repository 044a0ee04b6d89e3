import {
  ClosedConnectionError,
  ConnectionError,
  DrainingConnectionError,
  NoRespondersError,
  RequestError,
  TimeoutError,
} from '@nats-io/nats-core';

/** NATS client errors that mean the server did not answer (down, reconnecting, draining), not that a request was wrong. */
const UNAVAILABLE = [
  TimeoutError,
  ClosedConnectionError,
  ConnectionError,
  DrainingConnectionError,
  NoRespondersError,
  RequestError,
];

/** Whether an error (or one in its cause chain) says NATS was unavailable. */
export function isNatsUnavailable(err: unknown): boolean {
  for (let e = err, depth = 0; e instanceof Error && depth < 5; e = e.cause, depth++) {
    if (UNAVAILABLE.some((E) => e instanceof E)) return true;
  }
  return false;
}
