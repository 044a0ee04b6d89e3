import { Inject, Injectable, type OnApplicationBootstrap, type OnApplicationShutdown } from '@nestjs/common';
import type { Subscription } from '@nats-io/nats-core';
import { parseRunSubject } from '@runforge/contracts';
import { Messaging, RUNFORGE_CONFIG, type RunForgeConfig } from '@runforge/platform';
import { testFaults } from './test-faults';

/** Why a run's work was stopped; carried as the AbortSignal's reason. */
export type StopReason =
  | { readonly kind: 'cancelled' }
  | { readonly kind: 'timeout'; readonly seconds: number }
  | { readonly kind: 'stopped'; readonly message: string }
  | { readonly kind: 'stalled'; readonly seconds: number }
  | { readonly kind: 'shutdown' };

export function stopReasonOf(signal: AbortSignal): StopReason | undefined {
  return signal.aborted ? (signal.reason as StopReason) : undefined;
}

/** How many cancelled runs are remembered (oldest forgotten first). */
const REMEMBERED_STOPS = 1_000;

/**
 * Pushes stop requests to whatever this process runs for a run (its run attempt, its trial
 * batches): `RunCancellationRequested` (stored on RUNS) and the coordinator's `ctl.runs.<id>.abort`
 * (core NATS) both abort every registered controller of that run at once. Pushes are at most once;
 * a coordinator also stops on the stored request it reads in the run's history.
 */
@Injectable()
export class RunSignals implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly controllers = new Map<string, Set<AbortController>>();
  /**
   * Runs cancelled while this process was up: work of theirs that registers later (a trial batch
   * pulled just before the cancellation) starts aborted instead of running. Cancellation is final,
   * so this cannot stop anything that should still run.
   */
  private readonly stopped = new Map<string, StopReason>();
  private subs: Subscription[] = [];

  constructor(
    private readonly messaging: Messaging,
    @Inject(RUNFORGE_CONFIG) private readonly cfg: RunForgeConfig,
  ) {}

  onApplicationBootstrap(): void {
    const t = this.cfg.topology;
    this.subs = [
      ...(testFaults.deafToCancelPush
        ? []
        : [
            this.messaging.nc.subscribe(t.anyRunSubject('cancellation_requested'), {
              callback: (err, msg) => {
                const parsed = err ? undefined : parseRunSubject(t, msg.subject);
                if (parsed) this.abort(parsed.runId, { kind: 'cancelled' });
              },
            }),
          ]),
      this.messaging.nc.subscribe(t.anyRunAbortSubject(), {
        callback: (err, msg) => {
          // ctl.runs.<id>.abort (optionally namespaced): the run id is the second-to-last token.
          const tokens = msg.subject.split('.');
          const runId = err ? undefined : tokens[tokens.length - 2];
          if (runId) this.abort(runId, { kind: 'stopped', message: msg.string() || 'stopped by its coordinator' });
        },
      }),
    ];
  }

  onApplicationShutdown(): void {
    for (const s of this.subs) s.unsubscribe();
  }

  register(runId: string): AbortController {
    const c = new AbortController();
    const stoppedWith = this.stopped.get(runId);
    if (stoppedWith) c.abort(stoppedWith);
    let set = this.controllers.get(runId);
    if (!set) this.controllers.set(runId, (set = new Set()));
    set.add(c);
    return c;
  }

  release(runId: string, c: AbortController): void {
    const set = this.controllers.get(runId);
    set?.delete(c);
    if (set && set.size === 0) this.controllers.delete(runId);
  }

  abort(runId: string, reason: StopReason): void {
    if (reason.kind === 'cancelled') {
      this.stopped.set(runId, reason);
      if (this.stopped.size > REMEMBERED_STOPS) this.stopped.delete(this.stopped.keys().next().value as string);
    }
    for (const c of this.controllers.get(runId) ?? []) if (!c.signal.aborted) c.abort(reason);
  }

  /** Stops everything this process runs (graceful shutdown). */
  abortAll(reason: StopReason): void {
    for (const runId of this.controllers.keys()) this.abort(runId, reason);
  }

  /** Tells every worker to stop a run's trials (core NATS, not stored). */
  broadcastStop(runId: string, message: string): void {
    this.messaging.nc.publish(this.cfg.topology.runAbortSubject(runId), message);
  }
}
