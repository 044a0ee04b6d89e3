import { ConflictException, Controller, HttpCode, NotFoundException, Param, Post, Res } from '@nestjs/common';
import type { FastifyReply } from 'fastify';
import { TERMINAL_STATUSES, type RetryRunAnswer } from '@runforge/contracts';
import { DatasetStore } from '@runforge/datasets';
import { Messaging, RequiresRole } from '@runforge/service';
import {
  submitBacktest,
  submitOptimization,
  validateBacktestRequest,
  validateOptimizationRequest,
} from '@runforge/submission';
import { isRunId, ValidationFailed } from '../../common/validation';
import { RunReader } from '../run-reader.service';
import { CurrentPrincipal } from '../../auth/current-principal.decorator';
import type { Principal } from '@runforge/contracts';

/**
 * Redrive: `POST /api/runs/{id}/retry` starts a new run from the same request, linked to the
 * original (`retryOf`). For runs that ended (typically `Failed` after their attempts ran out, listed
 * by `GET /api/runs?status=Failed&reason=attempts_exhausted`); `409` while the run is still active.
 */
@Controller('api/runs')
export class RetryRunController {
  constructor(
    private readonly runs: RunReader,
    private readonly messaging: Messaging,
    private readonly datasets: DatasetStore,
  ) {}

  @RequiresRole('operator')
  @Post(':id/retry')
  @HttpCode(202)
  async retry(
    @Param('id') id: string,
    @CurrentPrincipal() principal: Principal,
    @Res({ passthrough: true }) reply: FastifyReply,
  ): Promise<RetryRunAnswer> {
    const run = isRunId(id) ? await this.runs.get(id) : undefined;
    const requested = run ? await this.messaging.reader.lastOfType(id, 'RunRequested') : undefined;
    if (!run || !requested || requested.event.type !== 'RunRequested') {
      throw new NotFoundException({ statusCode: 404, error: 'Not Found', message: `no run with id "${id}"` });
    }
    if (!TERMINAL_STATUSES.has(run.status)) {
      throw new ConflictException({
        statusCode: 409,
        error: 'Conflict',
        message: `the run is still ${run.status}`,
        id,
        status: run.status,
      });
    }
    const d = requested.event.data;
    const opts = { triggeredBy: 'api' as const, retryOf: id, scheduleId: d.scheduleId, principal };
    if (d.kind === 'backtest') {
      // Re-validated as a new request: strategies or datasets may have changed since.
      const v = await validateBacktestRequest(d.request, this.datasets);
      if (!v.ok) throw new ValidationFailed(v.issues, 'the original request is no longer valid');
      const { runId } = await submitBacktest(this.messaging.client, v.value, opts);
      void reply.header('Location', `/api/backtests/${runId}/status`);
      return { id: runId, status: 'Pending', retryOf: id, totalBars: v.value.totalBars };
    }
    const v = await validateOptimizationRequest(d.request, this.datasets);
    if (!v.ok) throw new ValidationFailed(v.issues, 'the original request is no longer valid');
    const { runId } = await submitOptimization(this.messaging.client, v.value, opts);
    void reply.header('Location', `/api/optimizations/${runId}/status`);
    return { id: runId, status: 'Pending', retryOf: id, totalCombinations: v.value.totalCombinations };
  }
}
