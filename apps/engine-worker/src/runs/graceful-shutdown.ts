import { Injectable, Logger, type BeforeApplicationShutdown } from '@nestjs/common';
import { RunSignals } from './run-signals.service';

/**
 * SIGTERM (a clean deploy): stop what is running and hand it back (`nak`) with a
 * `RunAttemptAbandoned {reason: shutdown}`, so another worker resumes it at once instead of after a
 * heartbeat timeout. Runs before the transport drains (which stops the pulls and waits for the
 * handlers to hand back) and before the NATS connection closes; anything taken meanwhile starts
 * aborted and is handed back too.
 */
@Injectable()
export class GracefulShutdown implements BeforeApplicationShutdown {
  private readonly log = new Logger(GracefulShutdown.name);

  constructor(private readonly signals: RunSignals) {}

  beforeApplicationShutdown(signal?: string): void {
    this.log.log(`shutting down (${signal ?? 'close'}): handing back work in progress`);
    this.signals.abortAll({ kind: 'shutdown' });
  }
}
