import { KindRegistry } from '@runforge/submission';
import { EnergySourceStore } from '@runforge/datasets';
import { Body, Controller, Delete, Get, HttpCode, Logger, Param, Patch, Post, Res } from '@nestjs/common';
import type { FastifyReply } from 'fastify';
import type { ScheduleChange } from '@runforge/contracts';
import { DatasetStore } from '@runforge/datasets';
import { JetStreamClient } from '@runforge/messaging';
import { validateCreateSchedule, validatePatchSchedule } from '@runforge/scheduling';
import { ValidationFailed } from '../../common/validation';
import { ScheduleStore, type ScheduleDetails, type ScheduleView } from '../schedule-store.service';

/**
 * Schedules CRUD. A schedule is validated whole (cron, IANA time zone, the run template exactly
 * like the run POSTs) and stored in Postgres; each change is then recorded as a `ScheduleChanged` on
 * `schedules.<id>.<change>`, which the scheduler consumes to re-plan at once (and which keeps the
 * history of changes).
 */
@Controller('api/schedules')
export class SchedulesController {
  private readonly log = new Logger(SchedulesController.name);

  constructor(
    private readonly store: ScheduleStore,
    private readonly datasets: DatasetStore,
    private readonly client: JetStreamClient,
    private readonly kinds: KindRegistry,
    private readonly sources: EnergySourceStore,
  ) {}

  /**
   * Records a change that is already stored. Postgres holds the schedule, so a notice that cannot be
   * published (NATS down) costs only the immediacy: the scheduler still sees the change on its next
   * tick. It is logged, not turned into an error for a change that took effect.
   */
  private async changed(scheduleId: string, change: ScheduleChange, name?: string): Promise<void> {
    const occurredAt = new Date().toISOString();
    await this.client
      .publishScheduleChanged({ type: 'ScheduleChanged', version: 1, scheduleId, change, name, occurredAt })
      .catch((err: unknown) => this.log.warn({ err, scheduleId, change }, 'schedule change not recorded on SCHEDULES'));
  }

  @Post()
  @HttpCode(201)
  async create(@Body() body: unknown, @Res({ passthrough: true }) reply: FastifyReply): Promise<ScheduleView> {
    const validated = await validateCreateSchedule(body, {
      datasets: this.datasets,
      energySources: this.sources,
      kinds: this.kinds,
    });
    if (!validated.ok) throw new ValidationFailed(validated.issues);
    const now = new Date();
    const row = await this.store.create(validated.value.definition, now);
    await this.changed(row.id, 'created', row.name);
    void reply.header('Location', `/api/schedules/${row.id}`);
    return this.store.view(row, now);
  }

  @Get()
  async list(): Promise<{ items: ScheduleView[] }> {
    const now = new Date();
    return { items: (await this.store.list()).map((r) => this.store.view(r, now)) };
  }

  @Get(':id')
  async get(@Param('id') id: string): Promise<ScheduleDetails> {
    return this.store.details(await this.store.get(id), new Date());
  }

  @Patch(':id')
  async update(@Param('id') id: string, @Body() body: unknown): Promise<ScheduleDetails> {
    const current = await this.store.get(id);
    const validated = await validatePatchSchedule(this.store.definition(current), body, {
      datasets: this.datasets,
      energySources: this.sources,
      kinds: this.kinds,
    });
    if (!validated.ok) throw new ValidationFailed(validated.issues);
    const now = new Date();
    const row = await this.store.update(current, validated.value.definition, now);
    await this.changed(row.id, 'updated', row.name);
    return this.store.details(row, now);
  }

  @Delete(':id')
  @HttpCode(204)
  async remove(@Param('id') id: string): Promise<void> {
    await this.store.delete(id);
    await this.changed(id, 'deleted');
  }

  @Post(':id/pause')
  @HttpCode(200)
  async pause(@Param('id') id: string): Promise<ScheduleDetails> {
    const now = new Date();
    const row = await this.store.setPaused(id, true, now);
    await this.changed(row.id, 'paused', row.name);
    return this.store.details(row, now);
  }

  @Post(':id/resume')
  @HttpCode(200)
  async resume(@Param('id') id: string): Promise<ScheduleDetails> {
    const now = new Date();
    const row = await this.store.setPaused(id, false, now);
    await this.changed(row.id, 'resumed', row.name);
    return this.store.details(row, now);
  }
}
