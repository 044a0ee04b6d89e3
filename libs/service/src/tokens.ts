import type { NatsConnection } from '@nats-io/nats-core';
import type { JetStreamManager } from '@nats-io/jetstream';
import type { EventBus } from '@runforge/messaging';

export const RUNFORGE_CONFIG = Symbol('RUNFORGE_CONFIG');

/** The service's NATS connection, JetStream manager and event bus, provisioned at start. */
export abstract class Messaging {
  abstract readonly nc: NatsConnection;
  abstract readonly jsm: JetStreamManager;
  abstract readonly bus: EventBus;
}
