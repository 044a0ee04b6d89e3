import { Controller, Get, NotFoundException, Param } from '@nestjs/common';
import type { BacktestStatus } from '@runforge/contracts';
import { RunReader } from '../../runs/run-reader.service';

@Controller('api/backtests')
export class BacktestStatusController {
  constructor(private readonly runs: RunReader) {}

  @Get(':id/status')
  async status(@Param('id') id: string): Promise<BacktestStatus> {
    const run = await this.runs.get(id, 'backtest');
    if (!run)
      throw new NotFoundException({ statusCode: 404, error: 'Not Found', message: `no backtest with id "${id}"` });
    return {
      id: run.id,
      status: run.status,
      totalBars: run.totalBars,
      processedBars: run.processedBars,
      ...(run.errorMessage !== null ? { errorMessage: run.errorMessage, errorStackTrace: run.errorStackTrace } : {}),
      ...(run.failureReason !== null ? { failureReason: run.failureReason } : {}),
      ...(run.result !== null ? { result: run.result } : {}),
      requestedAt: run.requestedAt,
      ...(run.startedAt !== null ? { startedAt: run.startedAt } : {}),
      ...(run.completedAt !== null ? { completedAt: run.completedAt } : {}),
      ...(run.durationMs !== null ? { durationMs: run.durationMs } : {}),
      progress: run.progress,
      attempt: run.attempt,
      traceId: run.traceId,
      ...(run.principal !== null ? { principal: run.principal } : {}),
    };
  }
}
