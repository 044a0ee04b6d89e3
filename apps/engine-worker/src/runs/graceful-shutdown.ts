import { Injectable, Logger, type BeforeApplicationShutdown } from '@nestjs/common';
import { TrialBatchConsumer } from '../optimizations/trial-batch.consumer';
import { RunRequestedConsumer } from './run-requested.consumer';
import { RunSignals } from './run-signals.service';

/**
 * SIGTERM (a clean deploy): stop taking work, stop what is running and hand it back (`nak`) with a
 * `RunAttemptAbandoned {reason: shutdown}`, so another worker resumes it at once instead of after a
 * heartbeat timeout. Runs before the NATS connection drains.
 */
@Injectable()
export class GracefulShutdown implements BeforeApplicationShutdown {
  private readonly log = new Logger(GracefulShutdown.name);

  constructor(
    private readonly runs: RunRequestedConsumer,
    private readonly trials: TrialBatchConsumer,
    private readonly signals: RunSignals,
  ) {}

  async beforeApplicationShutdown(signal?: string): Promise<void> {
    this.log.log(`shutting down (${signal ?? 'close'}): handing back work in progress`);
    const stopped = Promise.all([this.runs.stop(), this.trials.stop()]);
    this.signals.abortAll({ kind: 'shutdown' });
    await stopped;
  }
}
