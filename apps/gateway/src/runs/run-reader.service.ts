import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { type RunKind, type RunView } from '@runforge/contracts';
import { Messaging } from '@runforge/service';
import { RunRow } from '@runforge/read-models';
import { DataSource } from 'typeorm';
import { isRunId } from '../common/validation';

export type RunSnapshot = Pick<
  RunView,
  | 'id'
  | 'kind'
  | 'status'
  | 'strategy'
  | 'request'
  | 'totalBars'
  | 'processedBars'
  | 'totalCombinations'
  | 'completedCombinations'
  | 'failedCombinations'
  | 'attempt'
  | 'errorMessage'
  | 'errorStackTrace'
  | 'failureReason'
  | 'result'
  | 'requestedAt'
  | 'startedAt'
  | 'completedAt'
  | 'lastProgressAt'
  | 'longestProgressGapMs'
  | 'traceId'
  | 'scheduleId'
  | 'triggeredBy'
>;

function fromRow(r: RunRow): RunSnapshot {
  const iso = (d: Date | null): string | null => (d ? d.toISOString() : null);
  return {
    id: r.id,
    kind: r.kind,
    status: r.status,
    strategy: r.strategy,
    request: r.request,
    totalBars: r.totalBars,
    processedBars: r.processedBars,
    totalCombinations: r.totalCombinations,
    completedCombinations: r.completedCombinations,
    failedCombinations: r.failedCombinations,
    attempt: r.attempt,
    errorMessage: r.errorMessage,
    errorStackTrace: r.errorStackTrace,
    failureReason: r.failureReason,
    result: r.result,
    requestedAt: r.requestedAt.toISOString(),
    startedAt: iso(r.startedAt),
    completedAt: iso(r.completedAt),
    lastProgressAt: iso(r.lastProgressAt),
    longestProgressGapMs: r.longestProgressGapMs,
    traceId: r.traceId,
    scheduleId: r.scheduleId,
    triggeredBy: r.triggeredBy,
  };
}

/**
 * Reads a run's current state from the read model. Read-your-writes: a run accepted a moment ago
 * may not be projected yet; its `RunRequested` is then read straight from the stream and the run
 * answers `Pending` instead of 404.
 */
@Injectable()
export class RunReader {
  constructor(
    @InjectDataSource() private readonly db: DataSource,
    private readonly messaging: Messaging,
  ) {}

  async get(id: string, kind?: RunKind): Promise<RunSnapshot | undefined> {
    if (!isRunId(id)) return undefined;
    const row = await this.db.getRepository(RunRow).findOneBy({ id });
    const snapshot = row ? fromRow(row) : await this.fromStream(id);
    if (!snapshot || (kind && snapshot.kind !== kind)) return undefined;
    return snapshot;
  }

  private async fromStream(id: string): Promise<RunSnapshot | undefined> {
    const stored = await this.messaging.reader.lastOfType(id, 'RunRequested');
    if (!stored || stored.event.type !== 'RunRequested') return undefined;
    const d = stored.event.data;
    const tp = stored.traceparent?.split('-')[1];
    return {
      id,
      kind: d.kind,
      status: 'Pending',
      strategy: d.request.strategy,
      request: d.request as unknown as Record<string, unknown>,
      totalBars: d.totalBars,
      processedBars: 0,
      totalCombinations: d.kind === 'optimization' ? d.totalCombinations : null,
      completedCombinations: 0,
      failedCombinations: 0,
      attempt: 0,
      errorMessage: null,
      errorStackTrace: null,
      failureReason: null,
      result: null,
      requestedAt: stored.event.occurredAt,
      startedAt: null,
      completedAt: null,
      lastProgressAt: null,
      longestProgressGapMs: 0,
      traceId: tp ?? null,
      scheduleId: d.scheduleId ?? null,
      triggeredBy: d.triggeredBy,
    };
  }
}
