import { Controller, Get, NotFoundException, Param } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { clipText, RESULT_LIMITS, TERMINAL_STATUSES } from '@runforge/contracts';
import { DataSource } from 'typeorm';
import { RunReader } from '../../runs/run-reader.service';

interface TrialRow {
  id: string;
  index: number;
  params: Record<string, unknown>;
  metrics: Record<string, number>;
  score: number;
}

interface FailureRow {
  fingerprint: string;
  message: string;
  count: number;
  sample_trial_id: string;
}

@Controller('api/optimizations')
export class OptimizationStatusController {
  constructor(
    private readonly runs: RunReader,
    @InjectDataSource() private readonly db: DataSource,
  ) {}

  /**
   * Progress in combinations, the best trial so far, the failures grouped by kind and an ETA from the
   * observed trial rate. A completed run answers the coordinator's `result`; a run that ended
   * otherwise (cancelled, stopped by maxFailedTrials) answers one built from the trials it recorded,
   * so the progress it reached is not lost.
   */
  @Get(':id/status')
  async status(@Param('id') id: string): Promise<Record<string, unknown>> {
    const run = await this.runs.get(id, 'optimization');
    if (!run)
      throw new NotFoundException({ statusCode: 404, error: 'Not Found', message: `no optimization with id "${id}"` });
    const total = run.totalCombinations ?? 0;
    const done = run.completedCombinations + run.failedCombinations;
    let etaSeconds: number | undefined;
    let trialsPerSecond: number | undefined;
    if (run.status === 'Running' && run.startedAt && done > 0) {
      const elapsed = (Date.now() - Date.parse(run.startedAt)) / 1000;
      trialsPerSecond = done / Math.max(elapsed, 1e-3);
      etaSeconds = Math.max(0, Math.round((total - done) / trialsPerSecond));
    }
    // Without the coordinator's result (running, or ended without completing): from the trials table.
    let result: Record<string, unknown> | null = run.result;
    let bestTrial: unknown = result?.best ?? undefined;
    let failures: Record<string, unknown>[] | undefined; // while running only
    if (result === null && done > 0) {
      const [top, groups] = await Promise.all([
        run.completedCombinations > 0 ? this.topTrials(id) : [],
        run.failedCombinations > 0 ? this.failureGroups(id) : [],
      ]);
      bestTrial = top[0];
      if (!TERMINAL_STATUSES.has(run.status)) failures = groups;
      else {
        const objective = (run.request as { objective?: unknown }).objective;
        result = { objective, best: top[0] ?? null, top, failures: groups };
      }
    }
    return {
      id: run.id,
      status: run.status,
      totalCombinations: total,
      completedCombinations: run.completedCombinations,
      failedCombinations: run.failedCombinations,
      ...(bestTrial ? { bestTrial } : {}),
      ...(failures ? { failures } : {}),
      ...(etaSeconds !== undefined ? { etaSeconds, trialsPerSecond } : {}),
      ...(run.errorMessage !== null ? { errorMessage: run.errorMessage, errorStackTrace: run.errorStackTrace } : {}),
      ...(run.failureReason !== null ? { failureReason: run.failureReason } : {}),
      ...(result !== null ? { result } : {}),
      totalBars: run.totalBars,
      requestedAt: run.requestedAt,
      ...(run.startedAt !== null ? { startedAt: run.startedAt } : {}),
      ...(run.completedAt !== null ? { completedAt: run.completedAt } : {}),
      attempt: run.attempt,
      traceId: run.traceId,
    };
  }

  private schema(): string {
    return (this.db.options as { schema?: string }).schema ?? 'public';
  }

  /** The best completed trials so far, by score (higher is better), ties by grid index. */
  private async topTrials(runId: string): Promise<Record<string, unknown>[]> {
    const rows = await this.db.query<TrialRow[]>(
      `SELECT id, index, params, metrics, score FROM "${this.schema()}".trials
        WHERE run_id = $1 AND status = 'Completed' ORDER BY score DESC, index ASC LIMIT ${RESULT_LIMITS.top}`,
      [runId],
    );
    return rows.map((r) => ({ trialId: r.id, index: r.index, params: r.params, metrics: r.metrics, score: r.score }));
  }

  /**
   * Failed trials grouped by error fingerprint, largest group first (ties: the group whose first
   * trial comes first in the grid), each with its first trial's id and message, as in the
   * coordinator's result.
   */
  private async failureGroups(runId: string): Promise<Record<string, unknown>[]> {
    const s = `"${this.schema()}"`;
    const rows = await this.db.query<FailureRow[]>(
      `SELECT g.fingerprint, g.count, t.error_message AS message, t.id AS sample_trial_id
         FROM (SELECT fingerprint, count(*)::int AS count, min(index) AS first_index
                 FROM ${s}.trials WHERE run_id = $1 AND status = 'Failed' GROUP BY fingerprint) g
         JOIN ${s}.trials t ON t.run_id = $1 AND t.index = g.first_index
        ORDER BY g.count DESC, g.first_index LIMIT ${RESULT_LIMITS.failureGroups}`,
      [runId],
    );
    return rows.map((r) => ({
      fingerprint: r.fingerprint,
      message: clipText(r.message, RESULT_LIMITS.failureMessage),
      count: r.count,
      sampleTrialId: r.sample_trial_id,
    }));
  }
}
