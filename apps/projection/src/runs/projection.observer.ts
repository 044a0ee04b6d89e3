import { Logger } from '@nestjs/common';
import { eventTypeForToken, HEADERS, parseRunSubject, type RunEvent } from '@runforge/contracts';
import type { BatchMessage } from '@runforge/messaging';
import {
  LIFECYCLE_EVENT_TYPES,
  projectionMetrics,
  redeliveries,
  RunLifecycleCounter,
  setProjectionAppliedSeq,
  withRunBatchSpans,
  type LifecycleRow,
  type TracedMessage,
} from '@runforge/telemetry';
import { type RunForgeConfig } from '@runforge/service';
import type { DataSource } from 'typeorm';

/**
 * Observability of the projection, kept beside the consumer so the consumer stays about folding:
 * wraps the apply of one batch in spans (one per run, in that run's trace, linked to a batch span)
 * and, after commit, moves the projection and run-lifecycle metrics. Metrics never fail a batch.
 */
export class ProjectionObserver {
  private readonly log = new Logger(ProjectionObserver.name);
  private readonly lifecycle = new RunLifecycleCounter();

  constructor(
    private readonly db: DataSource,
    private readonly cfg: RunForgeConfig,
  ) {}

  /** Runs `apply` (which returns the checkpoint after it) for the messages above `appliedBefore`. */
  async observe(
    msgs: readonly BatchMessage<RunEvent>[],
    appliedBefore: number,
    apply: () => Promise<number>,
  ): Promise<void> {
    const t = this.cfg.topology;
    const traced: TracedMessage[] = [];
    const lifecycleMsgs: BatchMessage<RunEvent>[] = [];
    for (const m of msgs) {
      if (m.redelivered) redeliveries.inc({ consumer: t.consumers.projection.durable });
      if (m.seq <= appliedBefore) continue;
      const parsed = parseRunSubject(t, m.subject);
      if (!parsed) continue;
      const type = eventTypeForToken(parsed.eventToken);
      traced.push({
        seq: m.seq,
        runId: parsed.runId,
        type: type ?? parsed.eventToken,
        traceparent: m.headers?.get(HEADERS.traceparent) || undefined,
      });
      if (type && LIFECYCLE_EVENT_TYPES.has(type)) lifecycleMsgs.push(m);
    }
    if (traced.length === 0) {
      await apply();
      return;
    }
    const started = performance.now();
    const appliedAfter = await withRunBatchSpans(traced, {}, apply);
    try {
      projectionMetrics.batchDuration.observe((performance.now() - started) / 1000);
      setProjectionAppliedSeq(appliedAfter);
      const now = Date.now();
      const applied = new Set<number>();
      for (const m of traced) {
        if (m.seq > appliedAfter) continue;
        applied.add(m.seq);
        projectionMetrics.applied.inc({ type: m.type });
      }
      for (const m of msgs) {
        if (applied.has(m.seq)) projectionMetrics.eventDelay.observe(Math.max(0, now - m.storedAtMs) / 1000);
      }
      await this.countLifecycle(lifecycleMsgs.filter((m) => applied.has(m.seq)));
    } catch (err) {
      this.log.warn({ err }, 'projection metrics not updated for a batch');
    }
  }

  private async countLifecycle(msgs: readonly BatchMessage<RunEvent>[]): Promise<void> {
    if (msgs.length === 0) return;
    // Undecodable messages (no data) were logged and skipped by the consumer.
    const events = msgs.flatMap((m) => (m.data === undefined ? [] : [m.data]));
    const ids = [...new Set(events.map((e) => e.runId))];
    const rows: {
      id: string;
      kind: string;
      status: string;
      attempt: number;
      started_at: Date | null;
      completed_at: Date | null;
    }[] = await this.db.query(
      `SELECT id, kind, status, attempt, started_at, completed_at FROM "${this.cfg.dbSchema}".runs WHERE id = ANY($1)`,
      [ids],
    );
    const byId = new Map<string, LifecycleRow>(
      rows.map((r) => [
        r.id,
        {
          kind: r.kind,
          status: r.status,
          attempt: Number(r.attempt),
          startedAt: r.started_at,
          completedAt: r.completed_at,
        },
      ]),
    );
    this.lifecycle.record(events, byId);
  }
}
