import { Body, Controller, Headers, HttpCode, Post, Res } from '@nestjs/common';
import type { FastifyReply } from 'fastify';
import type { SubmitOptimizationAnswer } from '@runforge/contracts';
import { DatasetStore } from '@runforge/datasets';
import { Messaging, RequiresRole } from '@runforge/service';
import { submitOptimization, validateOptimizationRequest } from '@runforge/submission';
import { ValidationFailed } from '../../common/validation';
import { IDEMPOTENCY_HEADER, IdempotentSubmission } from '../../runs/submission/idempotent-submission.service';
import { CurrentPrincipal } from '../../auth/current-principal.decorator';
import type { Principal } from '@runforge/contracts';

@Controller('api/optimizations')
export class SubmitOptimizationController {
  constructor(
    private readonly messaging: Messaging,
    private readonly datasets: DatasetStore,
    private readonly idempotent: IdempotentSubmission,
  ) {}

  /**
   * Accepts a parameter grid and answers at once with the number of combinations that satisfy the
   * constraints; the trials fan out across every engine worker.
   */
  @RequiresRole('operator')
  @Post()
  @HttpCode(202)
  async submit(
    @Body() body: unknown,
    @Headers(IDEMPOTENCY_HEADER) key: string | undefined,
    @CurrentPrincipal() principal: Principal,
    @Res({ passthrough: true }) reply: FastifyReply,
  ): Promise<SubmitOptimizationAnswer> {
    const validated = await validateOptimizationRequest(body, this.datasets);
    if (!validated.ok) throw new ValidationFailed(validated.issues);
    const { totalCombinations, totalBars } = validated.value;
    const answer = await this.idempotent.submit(
      key,
      'optimization',
      body,
      (id) => ({ id, status: 'Pending' as const, totalCombinations, totalBars }),
      async (runId) => {
        await submitOptimization(this.messaging.client, validated.value, { runId, triggeredBy: 'api', principal });
      },
    );
    void reply.header('Location', `/api/optimizations/${answer.id}/status`);
    return answer;
  }
}
