import { Inject, Injectable } from '@nestjs/common';
import { headers as natsHeaders, type Msg, type MsgHdrs } from '@nats-io/nats-core';
import { Messaging, RUNFORGE_CONFIG, type RunForgeConfig } from '@runforge/service';
import type { AttemptStop } from './attempt-decision';

/**
 * Why a run's work was stopped; carried as the AbortSignal's reason. Declared with the attempt
 * decisions (`settle` takes it as is); `superseded`: a newer attempt of the run started elsewhere (this
 * one lost its lease), so it stops without a word.
 */
export type StopReason = AttemptStop;

/** Headers of a `ctl.runs.<id>.abort`: the attempts it stops (≤ this one) and why. */
const ATTEMPT_HEADER = 'RunForge-Attempt';
const SUPERSEDED_BY_HEADER = 'RunForge-Superseded-By';

export function stopReasonOf(signal: AbortSignal): StopReason | undefined {
  return signal.aborted ? (signal.reason as StopReason) : undefined;
}

/** How many stopped runs are remembered (oldest forgotten first). */
const REMEMBERED_STOPS = 1_000;

interface Registration {
  readonly controller: AbortController;
  /** The run attempt the work belongs to. */
  readonly attempt: number;
}

/** Remembers up to REMEMBERED_STOPS entries, forgetting the oldest. */
function remember<V>(map: Map<string, V>, key: string, value: V): void {
  map.delete(key);
  map.set(key, value);
  if (map.size > REMEMBERED_STOPS) map.delete(map.keys().next().value as string);
}

/**
 * Pushes stop requests to whatever this process runs for a run (its run attempt, its trial
 * batches): `RunCancellationRequested` (stored on RUNS) stops every attempt of the run; an
 * attempt's `ctl.runs.<id>.abort` (core NATS) stops it and older ones — its coordinator ended the
 * run early, the run's retries ran out, or a newer attempt took it over. Both are remembered, so
 * work of a stopped attempt that registers later (a batch still queued) starts aborted. Pushes are
 * at most once (core NATS, delivered by the transport to RunSignalsController); a coordinator also
 * stops on what it reads in the run's history.
 */
@Injectable()
export class RunSignals {
  private readonly controllers = new Map<string, Set<Registration>>();
  /**
   * Runs cancelled while this process was up: work of theirs that registers later (a trial batch
   * pulled just before the cancellation) starts aborted instead of running. Cancellation is final,
   * so this cannot stop anything that should still run.
   */
  private readonly cancelled = new Map<string, StopReason>();
  /** Per run, the newest attempt stopped (it and older ones never run again). */
  private readonly stoppedAttempts = new Map<string, { attempt: number; reason: StopReason }>();
  /** Set on shutdown: work that registers afterwards starts aborted and is handed back. */
  private shutdown: StopReason | undefined;

  constructor(
    private readonly messaging: Messaging,
    @Inject(RUNFORGE_CONFIG) private readonly cfg: RunForgeConfig,
  ) {}

  /** A controller for work of `attempt` of a run; aborted at once if that attempt was already stopped. */
  register(runId: string, attempt: number): AbortController {
    const controller = new AbortController();
    const stopped = this.stoppedAttempts.get(runId);
    const reason =
      this.shutdown ??
      this.cancelled.get(runId) ??
      (stopped && attempt <= stopped.attempt ? stopped.reason : undefined);
    if (reason) controller.abort(reason);
    let set = this.controllers.get(runId);
    if (!set) this.controllers.set(runId, (set = new Set()));
    set.add({ controller, attempt });
    return controller;
  }

  release(runId: string, c: AbortController): void {
    const set = this.controllers.get(runId);
    if (!set) return;
    for (const r of set) if (r.controller === c) set.delete(r);
    if (set.size === 0) this.controllers.delete(runId);
  }

  /** Stops the run's work of attempts up to `upToAttempt` (every attempt when omitted). */
  abort(runId: string, reason: StopReason, upToAttempt?: number): void {
    if (reason.kind === 'cancelled') remember(this.cancelled, runId, reason);
    if (upToAttempt !== undefined && upToAttempt >= (this.stoppedAttempts.get(runId)?.attempt ?? 0))
      remember(this.stoppedAttempts, runId, { attempt: upToAttempt, reason });
    for (const r of this.controllers.get(runId) ?? [])
      if (!r.controller.signal.aborted && (upToAttempt === undefined || r.attempt <= upToAttempt))
        r.controller.abort(reason);
  }

  /** Stops everything this process runs, and whatever it would take on from now (graceful shutdown). */
  abortAll(reason: StopReason): void {
    this.shutdown = reason;
    for (const runId of this.controllers.keys()) this.abort(runId, reason);
  }

  /** Tells every worker to stop a run's trials of `attempt` and older (core NATS, not stored). */
  broadcastStop(runId: string, attempt: number, message: string): void {
    this.messaging.nc.publish(this.cfg.topology.runAbortSubject(runId), message, {
      headers: abortPushHeaders(attempt),
    });
  }

  /**
   * Tells every worker that `attempt` of a run has started, so whatever older attempts still run
   * (a coordinator that lost its lease in a NATS outage, their queued trial batches) stops quietly.
   */
  broadcastSuperseded(runId: string, attempt: number): void {
    this.messaging.nc.publish(this.cfg.topology.runAbortSubject(runId), `superseded by attempt ${attempt}`, {
      headers: abortPushHeaders(attempt - 1, attempt),
    });
  }

  /** A `ctl.runs.<id>.abort` push (delivered by the transport, see RunSignalsController). */
  onAbortPush(msg: Pick<Msg, 'subject' | 'headers' | 'string'>): void {
    const push = stopOfAbortPush(msg);
    if (push) this.abort(push.runId, push.reason, push.upToAttempt);
  }
}

/** Headers of an abort push: it stops attempts up to `upToAttempt`, superseded by `byAttempt` if given. */
export function abortPushHeaders(upToAttempt: number, byAttempt?: number): MsgHdrs {
  const h = natsHeaders();
  h.set(ATTEMPT_HEADER, String(upToAttempt));
  if (byAttempt !== undefined) h.set(SUPERSEDED_BY_HEADER, String(byAttempt));
  return h;
}

/** A positive integer header (a missing header reads as ""), or undefined. */
function attemptHeader(msg: Pick<Msg, 'headers'>, name: string): number | undefined {
  const raw = msg.headers?.has(name) ? msg.headers.get(name) : '';
  const n = raw === '' ? Number.NaN : Number(raw);
  return Number.isInteger(n) && n > 0 ? n : undefined;
}

/**
 * What a `ctl.runs.<id>.abort` push stops: the run (second-to-last subject token; the subject may be
 * namespaced), why, and up to which attempt. Without an attempt header (a worker of an earlier
 * version) it stops every attempt, as such pushes did then.
 */
export function stopOfAbortPush(
  msg: Pick<Msg, 'subject' | 'headers' | 'string'>,
): { runId: string; reason: StopReason; upToAttempt?: number } | undefined {
  const tokens = msg.subject.split('.');
  const runId = tokens[tokens.length - 2];
  if (!runId) return undefined;
  const upToAttempt = attemptHeader(msg, ATTEMPT_HEADER);
  const by = attemptHeader(msg, SUPERSEDED_BY_HEADER);
  const reason: StopReason =
    by !== undefined
      ? { kind: 'superseded', byAttempt: by }
      : { kind: 'stopped', message: msg.string() || 'stopped by its coordinator' };
  return { runId, reason, ...(upToAttempt !== undefined ? { upToAttempt } : {}) };
}
