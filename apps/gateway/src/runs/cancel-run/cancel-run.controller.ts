import { ConflictException, Controller, HttpCode, NotFoundException, Param, Post, Res, Inject } from '@nestjs/common';
import type { FastifyReply } from 'fastify';
import {
  createEvent,
  eventTypeForToken,
  parseRunSubject,
  TERMINAL_STATUSES,
  type CancelRunAnswer,
  type Principal,
  type RunKind,
} from '@runforge/contracts';
import { Messaging, RUNFORGE_CONFIG, type RunForgeConfig, RequiresRole } from '@runforge/service';
import { RunReader } from '../run-reader.service';
import { CurrentPrincipal } from '../../auth/current-principal.decorator';

/** How long the gateway waits for the worker to confirm a running run's cancellation. */
export const CANCEL_CONFIRM_MS = Number(process.env.CANCEL_CONFIRM_MS ?? 3000);

/** How long a confirmed cancellation waits for the read model to show it (see `projected`). */
const PROJECTED_WAIT_MS = 1000;

/**
 * Cancellation (seed behaviour): `200 {id, status:"Cancelled"}` from Pending or Running, `409` with
 * the current status when the run already ended, `404` when unknown. The request is pushed to the
 * worker (it listens on `runs.*.cancellation_requested`); the gateway waits a short, bounded time
 * for `RunCancelled` and, if the worker can't confirm in time, answers `202 {status:"Cancelling"}`:
 * the cancellation is recorded and will be honoured.
 */
@RequiresRole('operator')
@Controller('api')
export class CancelRunController {
  constructor(
    private readonly runs: RunReader,
    private readonly messaging: Messaging,
    @Inject(RUNFORGE_CONFIG) private readonly cfg: RunForgeConfig,
  ) {}

  @Post('backtests/:id/cancel')
  @HttpCode(200)
  cancelBacktest(
    @Param('id') id: string,
    @CurrentPrincipal() principal: Principal,
    @Res({ passthrough: true }) reply: FastifyReply,
  ): Promise<CancelRunAnswer> {
    return this.cancel(id, 'backtest', principal, reply);
  }

  @Post('optimizations/:id/cancel')
  @HttpCode(200)
  cancelOptimization(
    @Param('id') id: string,
    @CurrentPrincipal() principal: Principal,
    @Res({ passthrough: true }) reply: FastifyReply,
  ): Promise<CancelRunAnswer> {
    return this.cancel(id, 'optimization', principal, reply);
  }

  /** Any run, whatever its kind. */
  @Post('runs/:id/cancel')
  @HttpCode(200)
  cancelRun(
    @Param('id') id: string,
    @CurrentPrincipal() principal: Principal,
    @Res({ passthrough: true }) reply: FastifyReply,
  ): Promise<CancelRunAnswer> {
    return this.cancel(id, undefined, principal, reply);
  }

  private async cancel(
    id: string,
    kind: RunKind | undefined,
    principal: Principal,
    reply: FastifyReply,
  ): Promise<CancelRunAnswer> {
    const run = await this.runs.get(id, kind);
    if (!run)
      throw new NotFoundException({
        statusCode: 404,
        error: 'Not Found',
        message: `no ${kind ?? 'run'} with id "${id}"`,
      });
    const conflict = (status: string): ConflictException =>
      new ConflictException({
        statusCode: 409,
        error: 'Conflict',
        message: `the ${kind ?? run.kind} is already ${status}`,
        id,
        status,
      });
    if (TERMINAL_STATUSES.has(run.status)) throw conflict(run.status);

    const t = this.cfg.topology;
    // Listen before asking, so the worker's answer cannot slip past.
    const sub = this.messaging.nc.subscribe(t.runSubject(id, '*'));
    try {
      const event = createEvent(
        'RunCancellationRequested',
        { runId: id, attempt: 0, occurredAt: new Date().toISOString() },
        { requestedBy: 'api', principal },
      );
      // A run's end is the last event of its history: a run that ended after the read model was read
      // is answered 409 from the stream, without appending a request behind its end. (A cancellation
      // stored in the instant between this read and the worker's end can still follow it; the fold
      // ignores it — see docs/events.md, "The end of a run".)
      const [requested, ...ends] = await Promise.all(
        (['RunRequested', 'RunCancelled', 'RunCompleted', 'RunFailed'] as const).map((type) =>
          this.messaging.reader.lastOfType(id, type),
        ),
      );
      const endedAs = ends.find((e) => e !== undefined)?.event.type;
      if (endedAs)
        throw conflict(endedAs === 'RunCancelled' ? 'Cancelled' : endedAs === 'RunCompleted' ? 'Completed' : 'Failed');
      // Published in the run's own trace, so the cancellation shows up where the run is followed.
      await this.messaging.client.publishEvent(event, { traceparent: requested?.traceparent });
      // A run no worker has started is cancelled by the request itself (it will never start).
      if (run.status === 'Pending' && !(await this.messaging.reader.lastOfType(id, 'RunStarted'))) {
        await this.projected(id);
        return { id, status: 'Cancelled' };
      }

      // The run may have ended between the read above and the subscription: the stream says so.
      const [cancelled, completed, failed] = await Promise.all(
        (['RunCancelled', 'RunCompleted', 'RunFailed'] as const).map((type) =>
          this.messaging.reader.lastOfType(id, type),
        ),
      );
      const ended = cancelled ? 'RunCancelled' : completed ? 'RunCompleted' : failed ? 'RunFailed' : undefined;
      const outcome =
        ended ??
        (await new Promise<string | undefined>((resolve) => {
          const timer = setTimeout(() => resolve(undefined), CANCEL_CONFIRM_MS);
          void (async () => {
            for await (const m of sub) {
              const type = eventTypeForToken(parseRunSubject(t, m.subject)?.eventToken ?? '');
              if (type === 'RunCancelled' || type === 'RunCompleted' || type === 'RunFailed') {
                clearTimeout(timer);
                resolve(type);
                return;
              }
            }
          })();
        }));
      if (outcome === 'RunCancelled') {
        await this.projected(id);
        return { id, status: 'Cancelled' };
      }
      if (outcome === 'RunCompleted') throw conflict('Completed');
      if (outcome === 'RunFailed') throw conflict('Failed');
      void reply.status(202);
      return {
        id,
        status: 'Cancelling',
        message: `cancellation accepted; the worker did not confirm within ${CANCEL_CONFIRM_MS} ms — poll the status`,
      };
    } finally {
      sub.unsubscribe();
    }
  }

  /**
   * Read-your-writes: waits (briefly, bounded) until the read model shows the run ended, so a status
   * read right after the `200 Cancelled` does not still say Running. A lagging projection only
   * delays the answer by PROJECTED_WAIT_MS; the cancellation itself is already recorded.
   */
  private async projected(id: string): Promise<void> {
    const deadline = performance.now() + PROJECTED_WAIT_MS;
    while (performance.now() < deadline) {
      const run = await this.runs.get(id);
      if (!run || TERMINAL_STATUSES.has(run.status)) return;
      // The projection applies an event within milliseconds at idle (a token bucket of batches).
      await new Promise((r) => setTimeout(r, 5));
    }
  }
}
