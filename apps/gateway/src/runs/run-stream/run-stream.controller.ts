import { Controller, Get, Inject, NotFoundException, Param, Res } from '@nestjs/common';
import type { FastifyReply } from 'fastify';
import type { Subscription } from '@nats-io/nats-core';
import { RUN_END_TYPES, TERMINAL_STATUSES, type StreamedRun } from '@runforge/contracts';
import { Messaging, RUNFORGE_CONFIG, type RunForgeConfig } from '@runforge/service';
import { OptimizationProgress } from '../../optimizations/optimization-progress.service';
import { RunReader } from '../run-reader.service';
import { SSE_HEARTBEAT_MS, SseChannel } from './sse';

/** At most 4 snapshots a second per stream. */
const MIN_SNAPSHOT_INTERVAL_MS = 250;
/**
 * The projection writes Postgres a moment after an event is published: after each event the
 * snapshot is re-read (at the throttled rate) for this long, so the stream sees the projected state.
 */
const PROJECTION_LAG_WINDOW_MS = 3_000;

/**
 * `GET /api/runs/{id}/stream`: Server-Sent Events with the run's snapshot (`event: snapshot`) on
 * connect and on every change, until the run is terminal (then `event: end` and the stream closes).
 * Changes are noticed through a core NATS subscription to the run's subjects; the snapshot itself
 * always comes from RunReader (and, for an optimization, OptimizationProgress), so the stream shows
 * what the status endpoints answer.
 */
@Controller('api/runs')
export class RunStreamController {
  constructor(
    private readonly runs: RunReader,
    private readonly progress: OptimizationProgress,
    private readonly messaging: Messaging,
    @Inject(RUNFORGE_CONFIG) private readonly cfg: RunForgeConfig,
  ) {}

  @Get(':id/stream')
  async stream(@Param('id') id: string, @Res() reply: FastifyReply): Promise<void> {
    // Subscribe before the first read, so no change between the read and the subscription is missed.
    const sub = this.subscribeToRun(id);
    let first: StreamedRun | undefined;
    try {
      first = await this.read(id);
    } catch (err) {
      sub?.unsubscribe();
      throw err;
    }
    if (!first || !sub) {
      sub?.unsubscribe();
      throw new NotFoundException({ statusCode: 404, error: 'Not Found', message: `no run with id "${id}"` });
    }
    reply.hijack();
    const channel = new SseChannel(reply.raw);
    const feed = new RunFeed(id, (runId) => this.read(runId), channel, sub, this.cfg.sseIdleRefreshMs);
    feed.start(first);
    // A run whose end is on the stream but not yet in the read model (it ended just before this
    // stream opened, and the projection lags): no event will follow, so re-read until it shows,
    // however long the projection takes — not only for the lag window.
    if (!TERMINAL_STATUSES.has(first.status)) void this.endedOnStream(id).then((ended) => ended && feed.untilEnded());
  }

  private async endedOnStream(id: string): Promise<boolean> {
    try {
      const ends = await Promise.all(RUN_END_TYPES.map((type) => this.messaging.reader.lastOfType(id, type)));
      return ends.some((e) => e !== undefined);
    } catch {
      return false; // NATS unavailable: the lag window and the idle refresh still apply
    }
  }

  private async read(id: string): Promise<StreamedRun | undefined> {
    const run = await this.runs.get(id);
    if (run?.kind !== 'optimization') return run;
    return { ...run, ...(await this.progress.of(run)) };
  }

  private subscribeToRun(id: string): Subscription | undefined {
    // An id that is not a subject token cannot name a run (RunReader answers undefined for it too).
    if (!/^[A-Za-z0-9_-]{1,64}$/.test(id)) return undefined;
    return this.messaging.nc.subscribe(this.cfg.topology.runHistorySubject(id));
  }
}

/** One client's feed of one run: throttled re-reads driven by the run's events. */
class RunFeed {
  private lastSent = '';
  private lastReadAt = 0;
  private hotUntil = 0;
  private timer: NodeJS.Timeout | undefined;
  private reading = false;
  private seq = 0;
  private readonly intervals: NodeJS.Timeout[] = [];

  constructor(
    private readonly id: string,
    private readonly read: (id: string) => Promise<StreamedRun | undefined>,
    private readonly channel: SseChannel,
    private readonly sub: Subscription,
    /** Safety net: re-read now and then even without events (a lost core message, a slow projection). */
    private readonly idleRefreshMs: number,
  ) {}

  start(first: StreamedRun): void {
    this.channel.onClose(() => this.stop());
    this.publish(first);
    if (this.channel.isClosed) return;
    this.intervals.push(setInterval(() => this.channel.comment('heartbeat'), SSE_HEARTBEAT_MS));
    this.intervals.push(setInterval(() => this.schedule(), this.idleRefreshMs));
    void this.listen();
    // Events published just before the subscription (a run that ended within milliseconds) reach
    // the read model a moment later and no event follows: re-read as after an event, not only at
    // the idle refresh, or the page shows Running for seconds after the run ended.
    this.hotUntil = Date.now() + PROJECTION_LAG_WINDOW_MS;
    this.schedule();
  }

  /** The run has ended on the stream: re-read (at the throttled rate) until the read model shows it. */
  untilEnded(): void {
    this.hotUntil = Number.POSITIVE_INFINITY;
    this.schedule();
  }

  private async listen(): Promise<void> {
    for await (const _msg of this.sub) {
      this.hotUntil = Math.max(this.hotUntil, Date.now() + PROJECTION_LAG_WINDOW_MS);
      this.schedule();
    }
  }

  private schedule(): void {
    if (this.timer || this.reading || this.channel.isClosed) return;
    const delay = Math.max(0, this.lastReadAt + MIN_SNAPSHOT_INTERVAL_MS - Date.now());
    this.timer = setTimeout(() => void this.refresh(), delay);
  }

  private async refresh(): Promise<void> {
    this.timer = undefined;
    this.reading = true;
    this.lastReadAt = Date.now();
    try {
      const snapshot = await this.read(this.id);
      if (snapshot) this.publish(snapshot);
    } catch {
      // A failed read (database hiccup) is retried by the next event or the idle refresh.
    } finally {
      this.reading = false;
    }
    if (!this.channel.isClosed && Date.now() < this.hotUntil) this.schedule();
  }

  private publish(snapshot: StreamedRun): void {
    // What changed, leaving out the ETA, the rate and the seconds since the latest outcome: they
    // move with the clock alone, and a snapshot that differs only there would re-render every
    // viewer each refresh. (`stalled` turning true is a change: the idle refresh notices it.)
    const { etaSeconds: _eta, trialsPerSecond: _rate, secondsSinceProgress: _since, ...state } = snapshot;
    const json = JSON.stringify(state);
    if (json !== this.lastSent) {
      this.lastSent = json;
      this.channel.send('snapshot', snapshot, ++this.seq);
    }
    if (TERMINAL_STATUSES.has(snapshot.status)) {
      // Tell the browser not to reconnect: EventSource retries any stream that just ends.
      this.channel.send('end', { id: this.id, status: snapshot.status });
      this.channel.end();
    }
  }

  private stop(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    for (const i of this.intervals.splice(0)) clearInterval(i);
    this.sub.unsubscribe();
  }
}
