import { Controller, Get, NotFoundException, Param } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import { RunReader } from '../../runs/run-reader.service';

interface BestTrialRow {
  id: string;
  index: number;
  params: Record<string, unknown>;
  metrics: Record<string, number>;
  score: number;
}

@Controller('api/optimizations')
export class OptimizationStatusController {
  constructor(
    private readonly runs: RunReader,
    @InjectDataSource() private readonly db: DataSource,
  ) {}

  /** Progress in combinations, the best trial so far and an ETA from the observed trial rate. */
  @Get(':id/status')
  async status(@Param('id') id: string): Promise<Record<string, unknown>> {
    const run = await this.runs.get(id, 'optimization');
    if (!run)
      throw new NotFoundException({ statusCode: 404, error: 'Not Found', message: `no optimization with id "${id}"` });
    const total = run.totalCombinations ?? 0;
    const done = run.completedCombinations + run.failedCombinations;
    let bestTrial: Record<string, unknown> | undefined;
    let etaSeconds: number | undefined;
    let trialsPerSecond: number | undefined;
    if (run.status === 'Running') {
      const schema = (this.db.options as { schema?: string }).schema ?? 'public';
      const rows = await this.db.query<BestTrialRow[]>(
        `SELECT id, index, params, metrics, score FROM "${schema}".trials
          WHERE run_id = $1 AND status = 'Completed' ORDER BY score DESC, index ASC LIMIT 1`,
        [id],
      );
      const best = rows[0];
      if (best)
        bestTrial = {
          trialId: best.id,
          index: best.index,
          params: best.params,
          metrics: best.metrics,
          score: best.score,
        };
      if (run.startedAt && done > 0) {
        const elapsed = (Date.now() - Date.parse(run.startedAt)) / 1000;
        trialsPerSecond = done / Math.max(elapsed, 1e-3);
        etaSeconds = Math.max(0, Math.round((total - done) / trialsPerSecond));
      }
    }
    const result = run.result as { best?: unknown } | null;
    return {
      id: run.id,
      status: run.status,
      totalCombinations: total,
      completedCombinations: run.completedCombinations,
      failedCombinations: run.failedCombinations,
      ...(bestTrial ? { bestTrial } : result?.best ? { bestTrial: result.best } : {}),
      ...(etaSeconds !== undefined ? { etaSeconds, trialsPerSecond } : {}),
      ...(run.errorMessage !== null ? { errorMessage: run.errorMessage, errorStackTrace: run.errorStackTrace } : {}),
      ...(run.failureReason !== null ? { failureReason: run.failureReason } : {}),
      ...(run.result !== null ? { result: run.result } : {}),
      totalBars: run.totalBars,
      requestedAt: run.requestedAt,
      ...(run.startedAt !== null ? { startedAt: run.startedAt } : {}),
      ...(run.completedAt !== null ? { completedAt: run.completedAt } : {}),
      attempt: run.attempt,
      traceId: run.traceId,
    };
  }
}
