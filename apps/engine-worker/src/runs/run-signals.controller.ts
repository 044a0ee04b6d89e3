import { Controller } from '@nestjs/common';
import { Ctx, EventPattern, Payload } from '@nestjs/microservices';
import type { RunEvent } from '@runforge/contracts';
import { core, CoreMessageContext } from '@runforge/messaging';
import { RunSignals } from './run-signals.service';
import { testFaults } from './test-faults';

/**
 * The pushes that stop a run's work in this process, the moment they are published: a user's
 * cancellation (stored on RUNS; core subscribers hear it as it is stored) and an attempt's stop
 * (`ctl.runs.<id>.abort`, core NATS only). At most once: the coordinator and the batches also read
 * the run's history, so a push lost in a reconnect still stops the run.
 */
@Controller()
export class RunSignalsController {
  constructor(private readonly signals: RunSignals) {}

  @EventPattern('RunCancellationRequested', core({ anyRunEvent: 'cancellation_requested' }))
  cancellationRequested(@Payload() event: Extract<RunEvent, { type: 'RunCancellationRequested' }>): void {
    if (testFaults.deafToCancelPush) return;
    this.signals.abort(event.runId, { kind: 'cancelled' });
  }

  @EventPattern('ctl.runs.*.abort', core('anyRunAbort'))
  abortRequested(@Ctx() ctx: CoreMessageContext): void {
    if (testFaults.deafToStopPush) return;
    this.signals.onAbortPush(ctx.msg);
  }
}
