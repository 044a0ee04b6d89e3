import type { JetStreamManager } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/nats-core';
import type { RunDispatch, RunEvent, RunEventType, Topology } from '@runforge/contracts';
import { JetStreamClient, StreamReader, type PublishOptions, type StoredRunEvent } from '@runforge/messaging';

/**
 * Tests and benches publish crafted events and read histories back: the transport's client and the
 * stream reader side by side, as the services have them.
 */
export class TestBus {
  readonly client: JetStreamClient;
  readonly reader: StreamReader;

  constructor(nc: NatsConnection, jsm: JetStreamManager, t: Topology) {
    this.client = new JetStreamClient(nc, t);
    this.reader = new StreamReader(nc, jsm, t);
  }

  publish(event: RunEvent, opts?: PublishOptions): ReturnType<JetStreamClient['publishEvent']> {
    return this.client.publishEvent(event, opts);
  }

  dispatch(d: RunDispatch): ReturnType<JetStreamClient['dispatchRun']> {
    return this.client.dispatchRun(d);
  }

  history(runId: string): Promise<StoredRunEvent[]> {
    return this.reader.history(runId);
  }

  lastOfType(runId: string, type: RunEventType): Promise<StoredRunEvent | undefined> {
    return this.reader.lastOfType(runId, type);
  }

  readHistory(runId: string, onEvent: (e: StoredRunEvent) => void, type?: RunEventType): Promise<number> {
    return this.reader.readHistory(runId, onEvent, type);
  }
}
