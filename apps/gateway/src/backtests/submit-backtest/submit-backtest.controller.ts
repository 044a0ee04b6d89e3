import { Body, Controller, HttpCode, Post, Res } from '@nestjs/common';
import type { FastifyReply } from 'fastify';
import { Messaging, submitBacktest, validateBacktestRequest } from '@runforge/platform';
import { ValidationFailed } from '../../common/validation';

@Controller('api/backtests')
export class SubmitBacktestController {
  constructor(private readonly messaging: Messaging) {}

  /** Accepts a backtest and answers at once: the run executes on an engine worker. */
  @Post()
  @HttpCode(202)
  async submit(
    @Body() body: unknown,
    @Res({ passthrough: true }) reply: FastifyReply,
  ): Promise<{ id: string; status: 'Pending'; totalBars: number }> {
    const validated = await validateBacktestRequest(body);
    if (!validated.ok) throw new ValidationFailed(validated.issues);
    const { runId } = await submitBacktest(this.messaging.bus, validated.value, { triggeredBy: 'api' });
    void reply.header('Location', `/api/backtests/${runId}/status`);
    return { id: runId, status: 'Pending', totalBars: validated.value.totalBars };
  }
}
