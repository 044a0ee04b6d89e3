import { KindRegistry } from '@runforge/submission';
import { EnergySourceStore } from '@runforge/datasets';
import { RunWindowGuard } from '../../runs/submission/run-window.guard';
import { ConflictException, Controller, HttpCode, Inject, NotFoundException, Param, Post, Res } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import type { FastifyReply } from 'fastify';
import { DatasetStore } from '@runforge/datasets';
import { decideFire } from '@runforge/scheduling';
import { Messaging, RUNFORGE_CONFIG, type RunForgeConfig, RequiresRole } from '@runforge/service';
import { DataSource } from 'typeorm';
import { CurrentPrincipal } from '../../auth/current-principal.decorator';
import type { Principal } from '@runforge/contracts';

/**
 * `POST /api/schedules/{id}/trigger`: a manual run of the schedule's template
 * (`triggeredBy: manual`). It goes through the same decision as a cron fire — it counts against
 * `maxRunsPerWindow` and honours the overlap policy — and is recorded among the schedule's fires.
 */
@Controller('api/schedules')
export class TriggerScheduleController {
  constructor(
    @InjectDataSource() private readonly db: DataSource,
    private readonly messaging: Messaging,
    @Inject(RUNFORGE_CONFIG) private readonly cfg: RunForgeConfig,
    private readonly datasets: DatasetStore,
    private readonly kinds: KindRegistry,
    private readonly windows: RunWindowGuard,
    private readonly sources: EnergySourceStore,
  ) {}

  @RequiresRole('operator')
  @Post(':id/trigger')
  @HttpCode(202)
  async trigger(
    @Param('id') id: string,
    @CurrentPrincipal() principal: Principal,
    @Res({ passthrough: true }) reply: FastifyReply,
  ): Promise<{
    id: string;
    status: 'Pending';
    scheduleId: string;
    triggeredBy: 'manual';
    cancelled: readonly string[];
  }> {
    const r = await decideFire(
      {
        db: this.db,
        client: this.messaging.client,
        reader: this.messaging.reader,
        instanceId: this.cfg.instanceId,
        datasets: this.datasets,
        energySources: this.sources,
        kinds: this.kinds,
        windows: this.windows.claims,
      },
      id,
      {
        triggeredBy: 'manual',
        now: new Date(),
        principal,
      },
    );
    if (!r.claimed)
      throw new NotFoundException({ statusCode: 404, error: 'Not Found', message: `no schedule with id "${id}"` });
    if (r.outcome !== 'started' || !r.runId) {
      throw new ConflictException({
        statusCode: 409,
        error: 'Conflict',
        message: r.reason ?? `the trigger was ${r.outcome}`,
        outcome: r.outcome,
        ...(r.nextAllowedAt ? { nextAllowedAt: r.nextAllowedAt.toISOString() } : {}),
      });
    }
    void reply.header('Location', `/api/runs/${r.runId}`);
    return { id: r.runId, status: 'Pending', scheduleId: id, triggeredBy: 'manual', cancelled: r.cancelled };
  }
}
