import { TestBus } from './bus';
import { connect } from '@nats-io/transport-node';
import { jetstreamManager } from '@nats-io/jetstream';
import type { RunEvent } from '@runforge/contracts';
import { type StoredRunEvent } from '@runforge/messaging';
import { eventually } from './eventually';
import { http, NATS_URL, type TestSystem } from './system';

export interface RunStatus {
  id: string;
  status: string;
  totalBars: number;
  processedBars: number;
  attempt: number;
  totalCombinations?: number;
  completedCombinations?: number;
  failedCombinations?: number;
  errorMessage?: string;
  failureReason?: string;
  startedAt?: string;
  traceId?: string | null;
}

export const TERMINAL = ['Completed', 'Failed', 'Cancelled'];

export async function statusOf(sys: TestSystem, kind: 'backtest' | 'optimization', id: string): Promise<RunStatus> {
  const r = await http<RunStatus>(sys.gateway.url, 'GET', `/api/${kind}s/${id}/status`);
  if (r.status !== 200) throw new Error(`status of ${id}: HTTP ${r.status} ${JSON.stringify(r.body)}`);
  return r.body;
}

export function waitForStatus(
  sys: TestSystem,
  kind: 'backtest' | 'optimization',
  id: string,
  accept: (s: RunStatus) => boolean,
  what: string,
  timeoutMs = 60_000,
  intervalMs = 50,
): Promise<RunStatus> {
  return eventually(what, () => statusOf(sys, kind, id), accept, { timeoutMs, intervalMs });
}

/** Opens a bus on the system's namespace for reading histories and publishing crafted events. */
export async function withBus<T>(sys: TestSystem, fn: (bus: TestBus) => Promise<T>): Promise<T> {
  const nc = await connect({ servers: NATS_URL });
  try {
    return await fn(new TestBus(nc, await jetstreamManager(nc), sys.iso.topology));
  } finally {
    await nc.close();
  }
}

export function eventsOf<T extends RunEvent['type']>(
  history: StoredRunEvent[],
  type: T,
): Extract<RunEvent, { type: T }>[] {
  return history.map((h) => h.event).filter((e): e is Extract<RunEvent, { type: T }> => e.type === type);
}

/** The worker process (by pid) that published the latest RunStarted of a run. */
export function workerPidOf(history: StoredRunEvent[]): number {
  const started = eventsOf(history, 'RunStarted');
  const last = started[started.length - 1];
  if (!last) throw new Error('the run has not started');
  return Number(last.data.workerId.split('-').pop());
}
