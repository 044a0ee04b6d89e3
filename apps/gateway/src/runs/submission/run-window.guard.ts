import { ConflictException, Inject, Injectable, type OnModuleInit } from '@nestjs/common';
import { retryWhileUnavailable } from '@runforge/messaging';
import { Messaging, RUNFORGE_CONFIG, type RunForgeConfig } from '@runforge/service';
import { RunWindowClaims, type MaxRunsPerWindow } from '@runforge/submission';

/**
 * A kind's `maxRunsPerWindow` at submission: the run claims a slot of its kind's window before it
 * is published (409 `{message, nextAllowedAt}` when the window is full), and gives the slot back if
 * the publish fails, so a failed submission does not use up the day.
 */
@Injectable()
export class RunWindowGuard implements OnModuleInit {
  private opened?: RunWindowClaims;

  constructor(
    private readonly messaging: Messaging,
    @Inject(RUNFORGE_CONFIG) private readonly cfg: RunForgeConfig,
  ) {}

  async onModuleInit(): Promise<void> {
    this.opened = await retryWhileUnavailable('the run windows bucket', () =>
      RunWindowClaims.open(this.messaging.nc, this.cfg.topology, this.cfg.natsRequestTimeoutMs),
    );
  }

  /** The kinds' windows (a schedule's manual trigger claims through them too). */
  get claims(): RunWindowClaims {
    if (!this.opened) throw new Error('run windows not opened yet');
    return this.opened;
  }

  /**
   * Runs `publish` for `runId` once it holds a slot of its kind's window (at once when the kind has
   * none); a full window is a 409 with the next allowed time and the runs that hold it.
   */
  async within(
    window: { key: string; policy: MaxRunsPerWindow } | undefined,
    runId: string,
    publish: () => Promise<void>,
  ): Promise<void> {
    const published = await this.claims.publishWithin(window, runId, new Date(), publish);
    if (!published.ok) {
      throw new ConflictException({
        statusCode: 409,
        error: 'Conflict',
        message: published.message,
        nextAllowedAt: published.nextAllowedAt.toISOString(),
        runs: published.holders,
      });
    }
  }
}
