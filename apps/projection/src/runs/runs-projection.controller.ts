import { Controller } from '@nestjs/common';
import { EventPattern, Payload } from '@nestjs/microservices';
import { CONSUMER_SETTINGS, type RunEvent } from '@runforge/contracts';
import { batch, type BatchMessage } from '@runforge/messaging';
import {
  ACK_WAIT_SECONDS,
  BATCH_BURST,
  BATCH_INTERVAL_MS,
  LEADER_GATE,
  LINGER_MS,
  MAX_BATCH,
  ProjectionConsumer,
} from './projection.consumer';

/**
 * Every event of `runs.>`, in stream order, in batches: a batch closes at MAX_BATCH events or
 * LINGER_MS after its first event (never on the server's pending estimate); after a quiet spell up
 * to BATCH_BURST batches start at once, under a steady stream one per BATCH_INTERVAL_MS. So a run's
 * events are applied within milliseconds of being stored at idle, and a steady trickle costs ten
 * transactions a second, not one per event. Consumed only while this instance leads.
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
      burst: BATCH_BURST,
      ackWaitSeconds: ACK_WAIT_SECONDS,
      maxAckPending: CONSUMER_SETTINGS.projection.maxAckPending,
      gate: LEADER_GATE,
    }),
  )
  apply(@Payload() messages: BatchMessage<RunEvent>[]): Promise<void> {
    return this.projection.applyDelivered(messages);
  }
}
