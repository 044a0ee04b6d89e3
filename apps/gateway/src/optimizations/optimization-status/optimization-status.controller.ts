import { Controller, Get, NotFoundException, Param } from '@nestjs/common';
import type { OptimizationStatus } from '@runforge/contracts';
import { RunReader } from '../../runs/run-reader.service';
import { OptimizationProgress } from '../optimization-progress.service';

@Controller('api/optimizations')
export class OptimizationStatusController {
  constructor(
    private readonly runs: RunReader,
    private readonly progress: OptimizationProgress,
  ) {}

  /**
   * Progress in combinations, the best trial so far, the failures grouped by kind, an ETA from the
   * observed trial rate and whether the run is stalled; once ended, the result (see
   * OptimizationProgress).
   */
  @Get(':id/status')
  async status(@Param('id') id: string): Promise<OptimizationStatus> {
    const run = await this.runs.get(id, 'optimization');
    if (!run)
      throw new NotFoundException({ statusCode: 404, error: 'Not Found', message: `no optimization with id "${id}"` });
    const { bestTrial, failures, etaSeconds, trialsPerSecond, result, ...pace } = await this.progress.of(run);
    return {
      id: run.id,
      status: run.status,
      totalCombinations: run.totalCombinations ?? 0,
      completedCombinations: run.completedCombinations,
      failedCombinations: run.failedCombinations,
      ...(bestTrial ? { bestTrial } : {}),
      ...(failures ? { failures } : {}),
      ...(etaSeconds !== undefined ? { etaSeconds } : {}),
      ...(trialsPerSecond !== undefined ? { trialsPerSecond } : {}),
      ...(run.lastProgressAt !== null ? { lastProgressAt: run.lastProgressAt } : {}),
      ...pace,
      ...(run.errorMessage !== null ? { errorMessage: run.errorMessage, errorStackTrace: run.errorStackTrace } : {}),
      ...(run.failureReason !== null ? { failureReason: run.failureReason } : {}),
      ...(result !== null ? { result } : {}),
      totalBars: run.totalBars,
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
