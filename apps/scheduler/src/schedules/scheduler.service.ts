import { Inject, Injectable, Logger, type OnApplicationBootstrap, type OnApplicationShutdown } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DatasetStore, EnergySourceStore } from '@runforge/datasets';
import { Messaging, RUNFORGE_CONFIG, type RunForgeConfig } from '@runforge/service';
import { ScheduleTicker } from '@runforge/scheduling';
import { KindRegistry, RunWindowClaims } from '@runforge/submission';
import { DataSource } from 'typeorm';
import { schedulerMetrics } from './scheduler.metrics';

const DAY_MS = 86_400_000;

/**
 * Runs the ticker on a timer (no overlap between ticks). `SCHEDULER_TICK_MS` (default 1000) sets
 * the cadence; `SCHEDULER_CLOCK_OFFSET_MS` shifts the scheduler's clock (for end-to-end tests of
 * real processes only); `SCHEDULER_FIRE_RETENTION_DAYS` (default 90) bounds the fire records.
 */
@Injectable()
export class SchedulerService implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly log = new Logger('Scheduler');
  private ticker?: ScheduleTicker;
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private stopped = false;
  private lastPrune = 0;
  private wakeAfterTick = false;
  private readonly tickMs = Number(process.env.SCHEDULER_TICK_MS ?? 1000);
  private readonly offsetMs = Number(process.env.SCHEDULER_CLOCK_OFFSET_MS ?? 0);
  private readonly retentionDays = Number(process.env.SCHEDULER_FIRE_RETENTION_DAYS ?? 90);

  constructor(
    @InjectDataSource() private readonly db: DataSource,
    private readonly messaging: Messaging,
    @Inject(RUNFORGE_CONFIG) private readonly cfg: RunForgeConfig,
    private readonly datasets: DatasetStore,
    private readonly sources: EnergySourceStore,
  ) {}

  async onApplicationBootstrap(): Promise<void> {
    // Templates may name uploaded datasets and any kind (program kinds from RUNFORGE_PROGRAM_KINDS):
    // every fire re-validates them, and claims its kind's maxRunsPerWindow like any trigger.
    const [kinds, windows] = await Promise.all([
      KindRegistry.load(),
      RunWindowClaims.open(this.messaging.nc, this.cfg.topology),
    ]);
    this.ticker = new ScheduleTicker({
      db: this.db,
      client: this.messaging.client,
      reader: this.messaging.reader,
      instanceId: this.cfg.instanceId,
      datasets: this.datasets,
      energySources: this.sources,
      kinds,
      windows,
    });
    this.schedule(0);
  }

  async onApplicationShutdown(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    await this.running;
  }

  private now(): Date {
    return new Date(Date.now() + this.offsetMs);
  }

  /**
   * Ticks as soon as the current tick (if any) is done: a schedule changed through the API is planned
   * at once rather than on the next tick.
   */
  wake(): void {
    if (this.stopped) return;
    if (!this.timer) {
      this.wakeAfterTick = true; // a tick is running: the next one starts as soon as it ends
      return;
    }
    clearTimeout(this.timer);
    this.timer = undefined;
    this.schedule(0);
  }

  private schedule(delay: number): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.running = this.runOnce().finally(() => {
        const next = this.wakeAfterTick ? 0 : this.tickMs;
        this.wakeAfterTick = false;
        this.schedule(next);
      });
    }, delay);
  }

  private async runOnce(): Promise<void> {
    try {
      const now = this.now();
      const endTimer = schedulerMetrics.tick.startTimer();
      const report = await (this.ticker as ScheduleTicker).tick(now);
      endTimer();
      schedulerMetrics.alreadyDecided.inc(report.alreadyDecided);
      schedulerMetrics.errors.inc(report.errors.length);
      for (const d of report.decided) {
        schedulerMetrics.fires.inc({ outcome: d.outcome });
        this.log.log(
          {
            scheduleId: d.scheduleId,
            fireTime: d.fireTime.toISOString(),
            outcome: d.outcome,
            runId: d.runId,
            reason: d.reason,
          },
          `schedule ${d.scheduleId} fire ${d.fireTime.toISOString()}: ${d.outcome}`,
        );
      }
      for (const e of report.errors)
        this.log.error({ err: e.error, scheduleId: e.scheduleId }, 'fire failed; retried next tick');
      if (now.getTime() - this.lastPrune > 3_600_000) {
        this.lastPrune = now.getTime();
        await (this.ticker as ScheduleTicker).prune(new Date(now.getTime() - this.retentionDays * DAY_MS));
      }
    } catch (err) {
      this.log.error({ err }, 'scheduler tick failed');
    }
  }
}
