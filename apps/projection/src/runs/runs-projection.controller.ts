import { Controller } from '@nestjs/common';
import { EventPattern, Payload } from '@nestjs/microservices';
import { CONSUMER_SETTINGS, type RunEvent } from '@runforge/contracts';
import { batch, type BatchMessage } from '@runforge/messaging';
import {
  ACK_WAIT_SECONDS,
  BATCH_INTERVAL_MS,
  isUrgentSubject,
  LEADER_GATE,
  LINGER_MS,
  MAX_BATCH,
  ProjectionConsumer,
} from './projection.consumer';

/**
 * Every event of `runs.>`, in stream order, in batches: a batch closes at MAX_BATCH events, or
 * LINGER_MS after a run's state changed (requested, started, ended…), or — holding only routine
 * events (trial outcomes, progress, logs) — no sooner than BATCH_INTERVAL_MS after the previous
 * one began; never on the server's pending estimate. So status reads see a state change within
 * milliseconds, and a steady stream of outcomes costs a few transactions a second, not one per
 * event. Consumed only while this instance leads.
 */
@Controller()
export class RunsProjectionController {
  constructor(private readonly projection: ProjectionConsumer) {}

  @EventPattern(
    'runs.>',
    batch({
      consumer: 'projection',
      maxMessages: MAX_BATCH,
      lingerMs: LINGER_MS,
      minIntervalMs: BATCH_INTERVAL_MS,
      urgent: isUrgentSubject,
      ackWaitSeconds: ACK_WAIT_SECONDS,
      maxAckPending: CONSUMER_SETTINGS.projection.maxAckPending,
      gate: LEADER_GATE,
    }),
  )
  apply(@Payload() messages: BatchMessage<RunEvent>[]): Promise<void> {
    return this.projection.applyDelivered(messages);
  }
}
