import { Body, Controller, Get, HttpCode, NotFoundException, Param, Post, Query, Res } from '@nestjs/common';
import { RequiresRole } from '@runforge/service';
import type { FastifyReply } from 'fastify';
import { z } from 'zod';
import { toFieldIssues, type FieldIssue } from '@runforge/contracts';
import { DatasetStore, EnergySourceStore, type EnergySourceInfo } from '@runforge/datasets';
import {
  formatCsvError,
  INTERVAL_MINUTES,
  parseAsset,
  parsePriceCsv,
  syntheticPrices,
  type PriceSeries,
  type SyntheticPriceSpec,
} from '@runforge/energy';
import { validateCreateSchedule } from '@runforge/scheduling';
import { KindRegistry, MARKET_TIME_ZONE } from '@runforge/submission';
import { ValidationFailed } from '../common/validation';
import { ScheduleChanges } from '../schedules/schedule-changes.service';
import { ScheduleStore, type ScheduleView } from '../schedules/schedule-store.service';
import { CurrentPrincipal } from '../auth/current-principal.decorator';
import type { Principal } from '@runforge/contracts';

const DAY_MS = 86_400_000;

/** A data source to create: its asset, and its prices from a seeded generator or a CSV. */
const CreateSourceSchema = z
  .object({
    name: z.string().trim().min(1).max(100),
    asset: z.record(z.string(), z.unknown()),
    synthetic: z
      .object({
        seed: z
          .number()
          .int()
          .min(0)
          .max(2 ** 32 - 1),
        intervalMinutes: z.union(INTERVAL_MINUTES.map((m) => z.literal(m))).default(15),
        /** First day covered (YYYY-MM-DD, UTC); default: yesterday, so today and the coming days are covered. */
        fromDate: z.iso.date().optional(),
        days: z.number().int().min(1).max(366).default(30),
        negativeHours: z.number().int().min(0).max(12).default(2),
      })
      .strict()
      .optional(),
    /** Prices as CSV text: `timestamp,day_ahead[,intraday,load,pv]`, one row per interval. */
    csv: z.string().min(1).optional(),
  })
  .strict()
  .superRefine((b, ctx) => {
    if ((b.synthetic === undefined) === (b.csv === undefined))
      ctx.addIssue({ code: 'custom', path: [], message: 'give exactly one of "synthetic" or "csv"' });
  });

/** The seed's three cadences (JOBS.md): DMO before the day-ahead auction, RMO and SO through the day. */
const CADENCES = [
  { kind: 'dmo', cron: '0 10 * * *', timezone: MARKET_TIME_ZONE, label: 'DMO daily 10:00' },
  { kind: 'rmo', cron: '*/30 * * * *', timezone: MARKET_TIME_ZONE, label: 'RMO every 30 min' },
  { kind: 'so', cron: '*/15 * * * *', timezone: MARKET_TIME_ZONE, label: 'SO every 15 min' },
] as const;

/**
 * The energy models' data sources: a price series per interval (seeded synthetic or uploaded CSV)
 * and the storage asset it prices. `POST …/{id}/cadences` creates the seed's three schedules for one.
 * Runs are submitted like any kind's: `POST /api/runs {kind: "dmo", data_source_id, model_config}`.
 */
@Controller('api/energy/sources')
export class EnergySourcesController {
  constructor(
    private readonly sources: EnergySourceStore,
    private readonly datasets: DatasetStore,
    private readonly kinds: KindRegistry,
    private readonly schedules: ScheduleStore,
    private readonly changes: ScheduleChanges,
  ) {}

  @RequiresRole('operator')
  @Post()
  @HttpCode(201)
  async create(@Body() body: unknown, @Res({ passthrough: true }) reply: FastifyReply): Promise<EnergySourceInfo> {
    const parsed = CreateSourceSchema.safeParse(body ?? {});
    if (!parsed.success) throw new ValidationFailed(toFieldIssues(parsed.error));
    const b = parsed.data;
    const issues: FieldIssue[] = [];
    const asset = parseAsset(b.asset);
    if (!asset.ok) issues.push(...asset.issues);
    let series: PriceSeries | undefined;
    let spec: SyntheticPriceSpec | undefined;
    if (b.synthetic) {
      const s = b.synthetic;
      const fromMs = s.fromDate
        ? Date.parse(`${s.fromDate}T00:00:00Z`)
        : Math.floor(Date.now() / DAY_MS) * DAY_MS - DAY_MS;
      spec = {
        seed: s.seed,
        start: new Date(fromMs).toISOString(),
        intervalMinutes: s.intervalMinutes,
        intervals: (s.days * 24 * 60) / s.intervalMinutes,
        negativeHours: s.negativeHours,
      };
      series = syntheticPrices(spec);
    } else if (b.csv !== undefined) {
      const csv = parsePriceCsv(b.csv);
      if (csv.ok) series = csv.series;
      else
        issues.push(
          ...csv.errors.map((e) => ({
            field: e.field ? `csv.line ${e.line}.${e.field}` : `csv.line ${e.line}`,
            reason: formatCsvError(e),
          })),
        );
    }
    if (issues.length > 0 || !series || !asset.ok) throw new ValidationFailed(issues);
    const info = await this.sources.save({
      name: b.name,
      origin: spec ? 'synthetic' : 'csv',
      ...(spec ? { synthetic: spec } : {}),
      asset: asset.value,
      series,
    });
    void reply.header('Location', `/api/energy/sources/${info.id}`);
    return info;
  }

  @Get()
  async list(): Promise<{ items: EnergySourceInfo[] }> {
    return { items: await this.sources.list() };
  }

  @Get(':id')
  async get(
    @Param('id') id: string,
    @Query('prices') prices?: string,
  ): Promise<EnergySourceInfo & { series?: PriceSeries }> {
    const found = prices === 'true' ? await this.sources.energySource(id) : await this.sources.describe(id);
    if (!found)
      throw new NotFoundException({ statusCode: 404, error: 'Not Found', message: `no data source with id "${id}"` });
    return found;
  }

  /**
   * The seed's three cadences for this data source — DMO daily at 10:00, RMO every 30 minutes, SO
   * every 15 minutes (market time) — as schedules that fire through the scheduler like any other.
   * Calling it again answers the schedules that already exist.
   */
  // Admin: it creates schedules.
  @RequiresRole('admin')
  @Post(':id/cadences')
  @HttpCode(201)
  async cadences(
    @Param('id') id: string,
    @CurrentPrincipal() principal: Principal,
  ): Promise<{ items: ScheduleView[] }> {
    const source = await this.sources.describe(id);
    if (!source)
      throw new NotFoundException({ statusCode: 404, error: 'Not Found', message: `no data source with id "${id}"` });
    const now = new Date();
    const existing = new Map((await this.schedules.list()).map((r) => [r.name, r]));
    const items: ScheduleView[] = [];
    for (const c of CADENCES) {
      const name = `${c.label} · ${source.name} (${source.id.slice(-8)})`;
      const have = existing.get(name);
      if (have) {
        items.push(this.schedules.view(have, now));
        continue;
      }
      const validated = await validateCreateSchedule(
        {
          name,
          cron: c.cron,
          timezone: c.timezone,
          overlapPolicy: 'skip',
          template: { kind: c.kind, data_source_id: id, triggered_by: 'scheduler' },
        },
        { datasets: this.datasets, energySources: this.sources, kinds: this.kinds },
      );
      if (!validated.ok) throw new ValidationFailed(validated.issues);
      const row = await this.schedules.create(validated.value.definition, now);
      await this.changes.announce(row.id, 'created', principal, name);
      items.push(this.schedules.view(row, now));
    }
    return { items };
  }
}
