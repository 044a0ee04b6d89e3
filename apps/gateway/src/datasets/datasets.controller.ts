import { Body, Controller, Get, Headers, HttpCode, NotFoundException, Param, Post, Query, Res } from '@nestjs/common';
import { RequiresRole } from '@runforge/service';
import type { FastifyReply } from 'fastify';
import { z } from 'zod';
import { parseOhlcvCsv, TIMEFRAMES, type Timeframe } from '@runforge/engine';
import { DatasetStore, type DatasetInfo } from '@runforge/datasets';
import { parseOrThrow, ValidationFailed } from '../common/validation';

const UploadQuery = z
  .object({
    symbol: z
      .string()
      .min(1)
      .max(32)
      .regex(/^[A-Za-z0-9._:/-]+$/, 'letters, digits and . _ : / - only'),
    name: z.string().min(1).max(200).optional(),
    timeframe: z.enum(TIMEFRAMES as unknown as [Timeframe, ...Timeframe[]]).optional(),
  })
  .strict();

/**
 * Uploaded OHLCV datasets. `POST /api/datasets?symbol=BTCUSD[&timeframe=1h][&name=…]` with a CSV
 * body (`content-type: text/csv`): header spellings such as `timestamp|time|date`, `open|o`, …,
 * ISO or epoch timestamps. Every row is validated; a bad row answers 400 with its line number and
 * the reason, and nothing is stored.
 */
@Controller('api/datasets')
export class DatasetsController {
  constructor(private readonly datasets: DatasetStore) {}

  @RequiresRole('operator')
  @Post()
  @HttpCode(201)
  async upload(
    @Query() query: unknown,
    @Body() body: unknown,
    @Headers('content-type') contentType: string | undefined,
    @Res({ passthrough: true }) reply: FastifyReply,
  ): Promise<DatasetInfo> {
    const q = parseOrThrow(UploadQuery, query ?? {});
    if (typeof body !== 'string' || !/^(text\/csv|text\/plain|application\/csv)/.test(contentType ?? '')) {
      throw new ValidationFailed([
        { field: '(body)', reason: 'send the CSV as the request body with content-type: text/csv' },
      ]);
    }
    if (body.trim() === '') throw new ValidationFailed([{ field: '(body)', reason: 'the CSV is empty' }]);
    const parsed = parseOhlcvCsv(body, q.timeframe ? { timeframe: q.timeframe } : undefined);
    if (!parsed.ok) {
      throw new ValidationFailed(
        parsed.errors.map((e) => ({
          field: `line ${e.line}${e.field ? `.${e.field}` : ''}`,
          line: e.line,
          reason: e.reason,
        })),
        `the CSV has invalid rows (first at line ${parsed.errors[0]?.line ?? 1})`,
      );
    }
    const info = await this.datasets.save(parsed.bars, { symbol: q.symbol, name: q.name });
    void reply.header('Location', `/api/datasets/${info.id}`);
    return info;
  }

  @Get()
  async list(): Promise<{ items: DatasetInfo[] }> {
    return { items: await this.datasets.list() };
  }

  @Get(':id')
  async describe(@Param('id') id: string): Promise<DatasetInfo> {
    const info = await this.datasets.describe(id);
    if (!info)
      throw new NotFoundException({ statusCode: 404, error: 'Not Found', message: `no dataset with id "${id}"` });
    return info;
  }
}
