import { ConflictException, Inject, Injectable, type OnModuleInit } from '@nestjs/common';
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
    this.opened = await RunWindowClaims.open(this.messaging.nc, this.cfg.topology);
  }

  /** The kinds' windows (a schedule's manual trigger claims through them too). */
  get claims(): RunWindowClaims {
    if (!this.opened) throw new Error('run windows not opened yet');
    return this.opened;
  }

  /** Runs `publish` for `runId` once it holds a slot of `kind`'s window (at once when the kind has no policy). */
  async within(
    window: { key: string; policy: MaxRunsPerWindow } | undefined,
    runId: string,
    publish: () => Promise<void>,
  ): Promise<void> {
    if (!window) return publish();
    const { key: kind, policy } = window;
    const claims = this.claims;
    const now = new Date();
    const claim = await claims.claim(kind, policy, runId, now);
    if (!claim.ok) {
      throw new ConflictException({
        statusCode: 409,
        error: 'Conflict',
        message: claim.message,
        nextAllowedAt: claim.nextAllowedAt.toISOString(),
        runs: claim.holders,
      });
    }
    try {
      await publish();
    } catch (err) {
      await claims.release(kind, policy, runId, now).catch(() => undefined);
      throw err;
    }
  }
}
