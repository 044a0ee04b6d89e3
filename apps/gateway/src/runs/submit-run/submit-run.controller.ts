import { Body, Controller, Headers, HttpCode, Post, Res } from '@nestjs/common';
import type { FastifyReply } from 'fastify';
import { DatasetStore, EnergySourceStore } from '@runforge/datasets';
import { Messaging, RequiresRole } from '@runforge/service';
import { KindRegistry, submitAccepted } from '@runforge/submission';
import { ValidationFailed } from '../../common/validation';
import { IDEMPOTENCY_HEADER, IdempotentSubmission } from '../submission/idempotent-submission.service';
import { RunWindowGuard } from '../submission/run-window.guard';
import { CurrentPrincipal } from '../../auth/current-principal.decorator';
import type { Principal } from '@runforge/contracts';

export interface SubmitRunAnswer {
  readonly id: string;
  readonly kind: string;
  readonly status: 'Pending';
  readonly [extra: string]: string | number;
}

/**
 * `POST /api/runs`: a run of any kind, `{kind, ...request}` — the kind's own rules validate the
 * rest (400 naming the field; an unknown kind lists the known ones). Answers at once with the run's id,
 * or 409 `{message, nextAllowedAt}` when the kind's `maxRunsPerWindow` is used up.
 */
@Controller('api/runs')
export class SubmitRunController {
  constructor(
    private readonly messaging: Messaging,
    private readonly datasets: DatasetStore,
    private readonly sources: EnergySourceStore,
    private readonly idempotent: IdempotentSubmission,
    private readonly kinds: KindRegistry,
    private readonly windows: RunWindowGuard,
  ) {}

  @RequiresRole('operator')
  @Post()
  @HttpCode(202)
  async submit(
    @Body() body: unknown,
    @Headers(IDEMPOTENCY_HEADER) key: string | undefined,
    @CurrentPrincipal() principal: Principal,
    @Res({ passthrough: true }) reply: FastifyReply,
  ): Promise<SubmitRunAnswer> {
    const validated = await this.kinds.validate(body, { datasets: this.datasets, energySources: this.sources });
    if (!validated.ok) throw new ValidationFailed(validated.issues);
    const run = validated.value;
    const answer = await this.idempotent.submit(
      key,
      run.kind,
      body,
      (id): SubmitRunAnswer => ({ id, kind: run.kind, status: 'Pending', ...run.answer }),
      (runId) =>
        this.windows.within(this.kinds.windowOf(run), runId, async () => {
          await submitAccepted(this.messaging.client, run, { runId, triggeredBy: 'api', principal });
        }),
    );
    void reply.header('Location', `/api/runs/${answer.id}`);
    return answer;
  }
}
