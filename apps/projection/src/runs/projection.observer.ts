import { Logger } from '@nestjs/common';
import {
  eventTypeForToken,
  HEADERS,
  parseRunSubject,
  type RunEvent,
  type RunView,
  type Topology,
} from '@runforge/contracts';
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

/** An undecodable message's run and type, as its subject names them. */
function whatSubjectSays(t: Topology, subject: string): { runId: string; type: string } | undefined {
  const parsed = parseRunSubject(t, subject);
  return parsed && { runId: parsed.runId, type: eventTypeForToken(parsed.eventToken) ?? parsed.eventToken };
}

/**
 * Observability of the projection, kept beside the consumer so the consumer stays about folding:
 * wraps the apply of one batch in spans (one per run, in that run's trace, linked to a batch span)
 * and, after commit, moves the projection and run-lifecycle metrics. Metrics never fail a batch.
 */
export class ProjectionObserver {
  private readonly log = new Logger(ProjectionObserver.name);
  private readonly lifecycle = new RunLifecycleCounter();

  constructor(private readonly cfg: RunForgeConfig) {}

  /**
   * Runs `apply` (which returns the checkpoint after it and the affected runs' rows) for the
   * messages above `appliedBefore`.
   */
  async observe(
    msgs: readonly BatchMessage<RunEvent>[],
    appliedBefore: number,
    apply: () => Promise<{ appliedSeq: number; views: ReadonlyMap<string, RunView> }>,
  ): Promise<void> {
    const t = this.cfg.topology;
    const traced: TracedMessage[] = [];
    const lifecycleMsgs: BatchMessage<RunEvent>[] = [];
    // A run's spans hang under the trace of its first message in the batch: only that one's
    // headers are read.
    const runsSeen = new Set<string>();
    for (const m of msgs) {
      if (m.redelivered) redeliveries.inc({ consumer: t.consumers.projection.durable });
      if (m.seq <= appliedBefore) continue;
      const of = m.data ? { runId: m.data.runId, type: m.data.type } : whatSubjectSays(t, m.subject);
      if (!of) continue;
      const first = !runsSeen.has(of.runId);
      if (first) runsSeen.add(of.runId);
      traced.push({
        seq: m.seq,
        runId: of.runId,
        type: of.type,
        traceparent: first ? m.headers?.get(HEADERS.traceparent) || undefined : undefined,
      });
      if ((LIFECYCLE_EVENT_TYPES as ReadonlySet<string>).has(of.type)) lifecycleMsgs.push(m);
    }
    if (traced.length === 0) {
      await apply();
      return;
    }
    const started = performance.now();
    const { appliedSeq: appliedAfter, views } = await withRunBatchSpans(traced, {}, apply);
    try {
      projectionMetrics.batchDuration.observe((performance.now() - started) / 1000);
      setProjectionAppliedSeq(appliedAfter);
      const now = Date.now();
      const applied = new Set<number>();
      const byType = new Map<string, number>();
      for (const m of traced) {
        if (m.seq > appliedAfter) continue;
        applied.add(m.seq);
        byType.set(m.type, (byType.get(m.type) ?? 0) + 1);
      }
      for (const [type, n] of byType) projectionMetrics.applied.inc({ type }, n);
      for (const m of msgs) {
        if (applied.has(m.seq)) projectionMetrics.eventDelay.observe(Math.max(0, now - m.storedAtMs) / 1000);
      }
      this.countLifecycle(
        lifecycleMsgs.filter((m) => applied.has(m.seq)),
        views,
      );
    } catch (err) {
      this.log.warn({ err }, 'projection metrics not updated for a batch');
    }
  }

  /** Lifecycle metrics of the batch's lifecycle events, from the rows the batch left (no query). */
  private countLifecycle(msgs: readonly BatchMessage<RunEvent>[], views: ReadonlyMap<string, RunView>): void {
    if (msgs.length === 0) return;
    // Undecodable messages (no data) were logged and skipped by the consumer.
    const events = msgs.flatMap((m) => (m.data === undefined ? [] : [m.data]));
    const rows = new Map<string, LifecycleRow>();
    for (const e of events) {
      const v = views.get(e.runId);
      if (!v || rows.has(e.runId)) continue;
      rows.set(e.runId, {
        kind: v.kind,
        status: v.status,
        attempt: v.attempt,
        startedAt: v.startedAt === null ? null : new Date(v.startedAt),
        completedAt: v.completedAt === null ? null : new Date(v.completedAt),
      });
    }
    this.lifecycle.record(events, rows);
  }
}
