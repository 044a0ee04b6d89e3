import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import {
  evolveRun,
  pickRun,
  RUN_SNAPSHOT_FIELDS,
  runFromColumns,
  type RunKind,
  type RunSnapshot,
  type RunView,
} from '@runforge/contracts';
import { poolQuery, schemaOf } from '@runforge/read-models';
import { Messaging } from '@runforge/service';
import { DataSource } from 'typeorm';
import { isRunId } from '../common/validation';

/**
 * Reads a run's current state from the read model. Read-your-writes: a run accepted a moment ago
 * may not be projected yet; its `RunRequested` is then read straight from the stream and folded by
 * `evolveRun`, as the projection will, so the run answers `Pending` instead of 404.
 */
@Injectable()
export class RunReader {
  constructor(
    @InjectDataSource() private readonly db: DataSource,
    private readonly messaging: Messaging,
  ) {}

  /** Every field of the run. */
  async view(id: string): Promise<RunView | undefined> {
    if (!isRunId(id)) return undefined;
    const rows = await poolQuery(this.db, `SELECT * FROM "${schemaOf(this.db)}".runs WHERE id = $1`, [id]);
    return rows[0] ? runFromColumns(rows[0]) : this.fromStream(id);
  }

  /** The run as the status endpoints and the live stream show it; undefined if it is of another kind. */
  async get(id: string, kind?: RunKind): Promise<RunSnapshot | undefined> {
    const run = await this.view(id);
    if (!run || (kind && run.kind !== kind)) return undefined;
    return pickRun(run, RUN_SNAPSHOT_FIELDS);
  }

  private async fromStream(id: string): Promise<RunView | undefined> {
    const stored = await this.messaging.reader.lastOfType(id, 'RunRequested');
    if (!stored) return undefined;
    const traceId = stored.traceparent?.split('-')[1];
    return evolveRun(undefined, stored.event, { seq: stored.seq, traceId });
  }
}
