import { Body, Controller, Headers, HttpCode, Post, Res } from '@nestjs/common';
import type { FastifyReply } from 'fastify';
import type { SubmitBacktestAnswer } from '@runforge/contracts';
import { DatasetStore } from '@runforge/datasets';
import { Messaging, RequiresRole } from '@runforge/service';
import { submitBacktest, validateBacktestRequest } from '@runforge/submission';
import { ValidationFailed } from '../../common/validation';
import { IDEMPOTENCY_HEADER, IdempotentSubmission } from '../../runs/submission/idempotent-submission.service';
import { CurrentPrincipal } from '../../auth/current-principal.decorator';
import type { Principal } from '@runforge/contracts';

@Controller('api/backtests')
export class SubmitBacktestController {
  constructor(
    private readonly messaging: Messaging,
    private readonly datasets: DatasetStore,
    private readonly idempotent: IdempotentSubmission,
  ) {}

  /** Accepts a backtest and answers at once: the run executes on an engine worker. */
  @RequiresRole('operator')
  @Post()
  @HttpCode(202)
  async submit(
    @Body() body: unknown,
    @Headers(IDEMPOTENCY_HEADER) key: string | undefined,
    @CurrentPrincipal() principal: Principal,
    @Res({ passthrough: true }) reply: FastifyReply,
  ): Promise<SubmitBacktestAnswer> {
    const validated = await validateBacktestRequest(body, this.datasets);
    if (!validated.ok) throw new ValidationFailed(validated.issues);
    const answer = await this.idempotent.submit(
      key,
      'backtest',
      body,
      (id) => ({ id, status: 'Pending' as const, totalBars: validated.value.totalBars }),
      async (runId) => {
        await submitBacktest(this.messaging.client, validated.value, { runId, triggeredBy: 'api', principal });
      },
    );
    void reply.header('Location', `/api/backtests/${answer.id}/status`);
    return answer;
  }
}
