import { Injectable, Logger } from '@nestjs/common';
import type { Principal, ScheduleChange } from '@runforge/contracts';
import { JetStreamClient } from '@runforge/messaging';

/**
 * Records a schedule change that is already stored as a `ScheduleChanged` on
 * `schedules.<id>.<change>`, which the scheduler consumes to re-plan at once. Postgres holds the
 * schedule, so a notice that cannot be published (NATS down) costs only the immediacy: the
 * scheduler still sees the change on its next tick. It is logged, not turned into an error for a
 * change that took effect.
 */
@Injectable()
export class ScheduleChanges {
  private readonly log = new Logger(ScheduleChanges.name);

  constructor(private readonly client: JetStreamClient) {}

  async announce(scheduleId: string, change: ScheduleChange, principal: Principal, name?: string): Promise<void> {
    const occurredAt = new Date().toISOString();
    await this.client
      .publishScheduleChanged({ type: 'ScheduleChanged', version: 1, scheduleId, change, name, occurredAt, principal })
      .catch((err: unknown) => this.log.warn({ err, scheduleId, change }, 'schedule change not recorded on SCHEDULES'));
  }
}
