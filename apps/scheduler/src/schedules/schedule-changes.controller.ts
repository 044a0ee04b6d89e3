import { Controller, Logger } from '@nestjs/common';
import { EventPattern, Payload } from '@nestjs/microservices';
import type { ScheduleChanged } from '@runforge/contracts';
import { pull } from '@runforge/messaging';
import { SchedulerService } from './scheduler.service';

/**
 * Schedule changes made through the API (`schedules.<id>.<change>`), from the consumer the scheduler
 * replicas share: whichever takes one re-plans at once (the fire decisions are claimed in Postgres,
 * so one replica's tick is enough). Without them the next tick, a second later, sees the change too.
 */
@Controller()
export class ScheduleChangesController {
  private readonly log = new Logger(ScheduleChangesController.name);

  constructor(private readonly scheduler: SchedulerService) {}

  @EventPattern('ScheduleChanged', pull({ consumers: ['scheduler'] }))
  changed(@Payload() change: ScheduleChanged): void {
    this.log.log({ scheduleId: change.scheduleId, change: change.change }, `schedule ${change.change}; planning now`);
    this.scheduler.wake();
  }
}
