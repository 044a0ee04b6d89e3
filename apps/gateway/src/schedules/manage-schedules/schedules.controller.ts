import { KindRegistry } from '@runforge/submission';
import { EnergySourceStore } from '@runforge/datasets';
import { Body, Controller, Delete, Get, HttpCode, Param, Patch, Post, Res } from '@nestjs/common';
import type { FastifyReply } from 'fastify';
import { DatasetStore } from '@runforge/datasets';
import { validateCreateSchedule, validatePatchSchedule } from '@runforge/scheduling';
import { ValidationFailed } from '../../common/validation';
import { ScheduleChanges } from '../schedule-changes.service';
import { ScheduleStore, type ScheduleDetails, type ScheduleView } from '../schedule-store.service';
import { CurrentPrincipal } from '../../auth/current-principal.decorator';
import type { Principal } from '@runforge/contracts';

/**
 * Schedules CRUD. A schedule is validated whole (cron, IANA time zone, the run template exactly
 * like the run POSTs) and stored in Postgres; each change is then recorded as a `ScheduleChanged` on
 * `schedules.<id>.<change>`, which the scheduler consumes to re-plan at once (and which keeps the
 * history of changes).
 */
@Controller('api/schedules')
export class SchedulesController {
  constructor(
    private readonly store: ScheduleStore,
    private readonly datasets: DatasetStore,
    private readonly changes: ScheduleChanges,
    private readonly kinds: KindRegistry,
    private readonly sources: EnergySourceStore,
  ) {}

  @Post()
  @HttpCode(201)
  async create(
    @Body() body: unknown,
    @CurrentPrincipal() principal: Principal,
    @Res({ passthrough: true }) reply: FastifyReply,
  ): Promise<ScheduleView> {
    const validated = await validateCreateSchedule(body, {
      datasets: this.datasets,
      energySources: this.sources,
      kinds: this.kinds,
    });
    if (!validated.ok) throw new ValidationFailed(validated.issues);
    const now = new Date();
    const row = await this.store.create(validated.value.definition, now);
    await this.changes.announce(row.id, 'created', principal, row.name);
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
  async update(
    @Param('id') id: string,
    @Body() body: unknown,
    @CurrentPrincipal() principal: Principal,
  ): Promise<ScheduleDetails> {
    const current = await this.store.get(id);
    const validated = await validatePatchSchedule(this.store.definition(current), body, {
      datasets: this.datasets,
      energySources: this.sources,
      kinds: this.kinds,
    });
    if (!validated.ok) throw new ValidationFailed(validated.issues);
    const now = new Date();
    const row = await this.store.update(current, validated.value.definition, now);
    await this.changes.announce(row.id, 'updated', principal, row.name);
    return this.store.details(row, now);
  }

  @Delete(':id')
  @HttpCode(204)
  async remove(@Param('id') id: string, @CurrentPrincipal() principal: Principal): Promise<void> {
    await this.store.delete(id);
    await this.changes.announce(id, 'deleted', principal);
  }

  @Post(':id/pause')
  @HttpCode(200)
  async pause(@Param('id') id: string, @CurrentPrincipal() principal: Principal): Promise<ScheduleDetails> {
    const now = new Date();
    const row = await this.store.setPaused(id, true, now);
    await this.changes.announce(row.id, 'paused', principal, row.name);
    return this.store.details(row, now);
  }

  @Post(':id/resume')
  @HttpCode(200)
  async resume(@Param('id') id: string, @CurrentPrincipal() principal: Principal): Promise<ScheduleDetails> {
    const now = new Date();
    const row = await this.store.setPaused(id, false, now);
    await this.changes.announce(row.id, 'resumed', principal, row.name);
    return this.store.details(row, now);
  }
}
