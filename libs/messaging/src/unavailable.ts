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

/** How long a service keeps retrying its start-up requests while NATS does not answer (NATS_START_RETRY_SECONDS). */
export const START_RETRY_SECONDS = Number(process.env.NATS_START_RETRY_SECONDS ?? 60);

/**
 * Runs a start-up request (provisioning streams, opening a bucket) again while NATS does not answer,
 * backing off from 250 ms to 5 s, for at most `withinSeconds`; any other error, or the last
 * unavailability, is thrown. A cluster electing a stream's leader answers JetStream requests with
 * timeouts for a few seconds: without this, a service started in that moment died (the chaos soak's
 * cluster phase saw a projection do so after a WORK leader kill) and waited for a supervisor.
 */
export async function retryWhileUnavailable<T>(
  what: string,
  fn: () => Promise<T>,
  opts: { withinSeconds?: number; onRetry?: (what: string, attempt: number, err: unknown) => void } = {},
): Promise<T> {
  const deadline = Date.now() + (opts.withinSeconds ?? START_RETRY_SECONDS) * 1000;
  for (let attempt = 1; ; attempt++) {
    try {
      return await fn();
    } catch (err) {
      if (!isNatsUnavailable(err) || Date.now() >= deadline) throw err;
      opts.onRetry?.(what, attempt, err);
      await new Promise((resolve) => setTimeout(resolve, Math.min(5000, 250 * 2 ** (attempt - 1))));
    }
  }
}
