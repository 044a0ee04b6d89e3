import type { NatsConnection } from '@nats-io/nats-core';
import type { JetStreamManager } from '@nats-io/jetstream';
import {
  decodeEvent,
  eventDefinition,
  HEADERS,
  type RunEventType,
  type RunHistoryEvent,
  type Topology,
} from '@runforge/contracts';
import { readStream, type StoredRunEvent } from './stream-range';

/** One entry of a run's audit history, as `GET /api/runs/{id}/events` and `npm run replay -- --json` show it. */
export type AuditEvent = RunHistoryEvent;

export function toAuditEvent(h: StoredRunEvent): AuditEvent {
  const e = h.event;
  return {
    seq: h.seq,
    storedAt: h.storedAt,
    type: e.type,
    version: e.version,
    attempt: e.attempt,
    occurredAt: e.occurredAt,
    data: e.data,
  };
}

/**
 * Reads run events back from `RUNS`: a run's history in stream order, or the last event of a type.
 * (Publishing goes through the transport's client, `JetStreamClient`.)
 */
export class StreamReader {
  constructor(
    readonly nc: NatsConnection,
    readonly jsm: JetStreamManager,
    readonly topology: Topology,
  ) {}

  /** The last stored event of one type for a run, or undefined (a cheap direct lookup by subject). */
  async lastOfType(runId: string, type: RunEventType): Promise<StoredRunEvent | undefined> {
    const subject = this.topology.runSubject(runId, eventDefinition(type).token);
    try {
      const m = await this.jsm.streams.getMessage(this.topology.streams.runs.name, { last_by_subj: subject });
      if (!m) return undefined;
      return {
        seq: m.seq,
        storedAt: m.time.toISOString(),
        subject: m.subject,
        event: decodeEvent(m.json()),
        traceparent: m.header?.get(HEADERS.traceparent) || undefined,
      };
    } catch (err) {
      if (err instanceof Error && /no message found/i.test(err.message)) return undefined;
      throw err;
    }
  }

  /**
   * A run's whole history (`runs.<id>.>`) in stream order, via an ephemeral ordered consumer. The
   * consumer's pending count at creation bounds the read, so an unknown run (no messages) answers at
   * once instead of waiting for a fetch to expire, and events appended meanwhile are not awaited.
   * Fetches stay within FETCH_WINDOW_BYTES: a large optimization's history is hundreds of ~0.5 MB
   * outcome batches, which a fetch of 1,000 would have NATS push faster than the reader decodes them.
   */
  async history(runId: string): Promise<StoredRunEvent[]> {
    const out: StoredRunEvent[] = [];
    await this.readHistory(runId, (e) => void out.push(e));
    return out;
  }

  /**
   * Streams a run's history to `onEvent` in stream order (see `history`), or only its events of
   * one type (one subject: a single filter, as NATS 2.9 allows); returns the count read.
   */
  async readHistory(runId: string, onEvent: (e: StoredRunEvent) => void, type?: RunEventType): Promise<number> {
    const filterSubject = type
      ? this.topology.runSubject(runId, eventDefinition(type).token)
      : this.topology.runHistorySubject(runId);
    const { read } = await readStream(
      this.nc,
      this.topology,
      { fromSeq: 1, filterSubject, batchSize: 1_000 },
      (batch) => {
        for (const e of batch) onEvent(e);
      },
    );
    return read;
  }
}
