import { Body, Controller, HttpCode, Post, Res } from '@nestjs/common';
import type { FastifyReply } from 'fastify';
import { Messaging, submitOptimization, validateOptimizationRequest } from '@runforge/platform';
import { ValidationFailed } from '../../common/validation';

@Controller('api/optimizations')
export class SubmitOptimizationController {
  constructor(private readonly messaging: Messaging) {}

  /**
   * Accepts a parameter grid and answers at once with the number of combinations that satisfy the
   * constraints; the trials fan out across every engine worker.
   */
  @Post()
  @HttpCode(202)
  async submit(
    @Body() body: unknown,
    @Res({ passthrough: true }) reply: FastifyReply,
  ): Promise<{ id: string; status: 'Pending'; totalCombinations: number; totalBars: number }> {
    const validated = await validateOptimizationRequest(body);
    if (!validated.ok) throw new ValidationFailed(validated.issues);
    const { runId } = await submitOptimization(this.messaging.bus, validated.value, { triggeredBy: 'api' });
    void reply.header('Location', `/api/optimizations/${runId}/status`);
    return { id: runId, status: 'Pending', totalCombinations: validated.value.totalCombinations, totalBars: validated.value.totalBars };
  }
}
