import { Controller } from '@nestjs/common';
import { EventPattern, Payload } from '@nestjs/microservices';
import { CONSUMER_SETTINGS, type RunEvent } from '@runforge/contracts';
import { batch, type BatchMessage } from '@runforge/messaging';
import {
  ACK_WAIT_SECONDS,
  BATCH_DUTY_CYCLE,
  BATCH_MAX_INTERVAL_MS,
  LEADER_GATE,
  LINGER_MS,
  MAX_BATCH,
  ProjectionConsumer,
} from './projection.consumer';

/**
 * Every event of `runs.>`, in stream order, in batches: a batch closes at MAX_BATCH events or
 * LINGER_MS after its first event (never on the server's pending estimate), and starts once the
 * previous batch's run time is at most BATCH_DUTY_CYCLE of the time since it began (at most
 * BATCH_MAX_INTERVAL_MS). So a run's events are applied within milliseconds of being stored at
 * idle, and a steady stream costs at most a fifth of a core, not a transaction per event.
 * Consumed only while this instance leads.
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
      dutyCycle: BATCH_DUTY_CYCLE,
      maxIntervalMs: BATCH_MAX_INTERVAL_MS,
      ackWaitSeconds: ACK_WAIT_SECONDS,
      maxAckPending: CONSUMER_SETTINGS.projection.maxAckPending,
      gate: LEADER_GATE,
    }),
  )
  apply(@Payload() messages: BatchMessage<RunEvent>[]): Promise<void> {
    return this.projection.applyDelivered(messages);
  }
}
