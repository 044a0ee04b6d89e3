import type { NatsConnection } from '@nats-io/nats-core';
import type { JetStreamManager } from '@nats-io/jetstream';
import type { JetStreamClient, StreamReader } from '@runforge/messaging';

export const RUNFORGE_CONFIG = Symbol('RUNFORGE_CONFIG');

/**
 * The service's NATS connection with its streams and consumers provisioned: the transport's client
 * (every publish) and the stream reader (histories). Both are also injectable on their own.
 */
export abstract class Messaging {
  abstract readonly nc: NatsConnection;
  abstract readonly jsm: JetStreamManager;
  abstract readonly client: JetStreamClient;
  abstract readonly reader: StreamReader;
  /**
   * Whether the connection is up right now (false from a disconnect until the reconnect): a request
   * that needs NATS can be refused at once instead of waiting out a request timeout.
   */
  abstract connected(): boolean;
}
