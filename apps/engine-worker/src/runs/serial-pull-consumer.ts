import type { Logger, OnApplicationBootstrap, OnApplicationShutdown } from '@nestjs/common';
import type { JsMsg } from '@nats-io/jetstream';

/**
 * A worker's loop over a JetStream pull consumer, one message at a time: it pulls with `next()`
 * (no client-side buffer, so a worker that stops holds nothing it has not started, and a message's
 * delivery count is exactly its attempt), hands back (`nak`) a message that arrives after the stop,
 * and resubscribes after a failure. Subclasses say where the next message comes from and what to
 * do with it.
 */
export abstract class SerialPullConsumer implements OnApplicationBootstrap, OnApplicationShutdown {
  protected abstract readonly log: Logger;
  protected stopping = false;
  private inFlight?: Promise<void>;
  private loop?: Promise<void>;

  /** (Re)binds to the consumer(s) before pulling; called again after a failure. */
  protected abstract prepare(): Promise<void>;
  /** The next message, or null when none came in time (the loop asks again). */
  protected abstract next(): Promise<JsMsg | null>;
  protected abstract handle(msg: JsMsg): Promise<void>;

  /** A message that arrived after the stop goes back to the queue; subclasses may record why first. */
  protected handBack(msg: JsMsg): Promise<void> {
    msg.nak();
    return Promise.resolve();
  }

  onApplicationBootstrap(): void {
    this.loop = this.run();
  }

  /** Stops taking messages; resolves once the one in hand has settled (pulls expire within ~1–2 s). */
  async stop(): Promise<void> {
    this.stopping = true;
    await this.inFlight?.catch(() => undefined);
    await this.loop?.catch(() => undefined);
  }

  async onApplicationShutdown(): Promise<void> {
    await this.stop();
  }

  private async run(): Promise<void> {
    while (!this.stopping) {
      try {
        await this.prepare();
        while (!this.stopping) {
          const msg = await this.next();
          if (!msg) continue;
          if (this.stopping) {
            this.inFlight = this.handBack(msg).catch((err: unknown) => {
              this.log.error({ err }, 'could not hand a message back; it is redelivered after the ack wait');
            });
            await this.inFlight;
            break;
          }
          this.inFlight = this.handle(msg);
          await this.inFlight;
          this.inFlight = undefined;
        }
      } catch (err) {
        if (this.stopping) break;
        this.log.error({ err }, 'consumer loop failed; resubscribing');
        await new Promise((r) => setTimeout(r, 1000));
      }
    }
  }
}
