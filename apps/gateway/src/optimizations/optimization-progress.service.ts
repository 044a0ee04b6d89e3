import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import {
  clipText,
  RESULT_LIMITS,
  TERMINAL_STATUSES,
  type FailureGroup,
  type OptimizationProgressFields,
  type RunView,
  type TrialSummary,
} from '@runforge/contracts';
import { DataSource } from 'typeorm';
import { schemaOf } from '@runforge/read-models';
import { progressPace } from './progress-pace';

/** What the progress of an optimization is computed from: fields of its run. */
export type OptimizationRunState = Pick<
  RunView,
  | 'id'
  | 'status'
  | 'totalCombinations'
  | 'completedCombinations'
  | 'failedCombinations'
  | 'startedAt'
  | 'lastProgressAt'
  | 'longestProgressGapMs'
  | 'result'
  | 'request'
>;

/** Trial-table reads of a running optimization are shared for this long (by every stream and poll). */
const RUNNING_REUSE_MS = 1_000;
/** Runs whose trial-table reads are kept (oldest forgotten first). */
const CACHED_RUNS = 500;

interface TrialReads {
  /** Status and counts the reads were made at: once they change the reads are stale. */
  key: string;
  at: number;
  top: TrialSummary[];
  groups: FailureGroup[];
}

interface TrialRow {
  id: string;
  index: number;
  params: TrialSummary['params'];
  metrics: Record<string, number>;
  score: number;
}

interface FailureRow {
  fingerprint: string;
  message: string;
  count: number;
  sample_trial_id: string;
}

/**
 * One definition of an optimization's progress — best trial so far, failures grouped by kind, ETA,
 * whether it is stalled, and the result of a run that ended early — shared by every endpoint that shows an optimization,
 * so the status endpoint, `GET /api/runs/{id}` and the live stream (the dashboard) agree.
 */
@Injectable()
export class OptimizationProgress {
  /**
   * The live stream re-reads a busy run up to 4 times a second per viewer: the trial-table reads
   * (a sort of its completed trials, a grouping of its failed ones) are made once per change of the
   * run's counts, and at most once a second while it runs, whoever asks.
   */
  private readonly reads = new Map<string, TrialReads>();

  constructor(@InjectDataSource() private readonly db: DataSource) {}

  async of(run: OptimizationRunState, now = Date.now()): Promise<OptimizationProgressFields> {
    const total = run.totalCombinations ?? 0;
    const done = run.completedCombinations + run.failedCombinations;
    const fields: OptimizationProgressFields = { result: run.result };
    const best = run.result?.best;
    if (best && typeof best === 'object') fields.bestTrial = best as TrialSummary; // OptimizationResultSchema
    // Without the coordinator's result (running, or ended without completing): from the trials table.
    const reads = run.result === null && done > 0 ? await this.trialReads(run, now) : undefined;
    if (reads) {
      const { top, groups } = reads;
      if (top[0]) fields.bestTrial = top[0];
      if (!TERMINAL_STATUSES.has(run.status)) fields.failures = groups;
      else fields.result = { objective: run.request.objective, best: top[0] ?? null, top, failures: groups };
    }
    const pace = progressPace(run, now);
    if (pace) Object.assign(fields, pace);
    if (run.status === 'Running' && run.startedAt && done > 0) {
      const elapsed = (now - Date.parse(run.startedAt)) / 1000;
      fields.trialsPerSecond = done / Math.max(elapsed, 1e-3);
      if (!pace?.stalled) fields.etaSeconds = Math.max(0, Math.round((total - done) / fields.trialsPerSecond));
    }
    return fields;
  }

  private async trialReads(run: OptimizationRunState, now: number): Promise<TrialReads> {
    const key = `${run.status}:${run.completedCombinations}:${run.failedCombinations}`;
    const cached = this.reads.get(run.id);
    if (cached && (cached.key === key || (run.status === 'Running' && now - cached.at < RUNNING_REUSE_MS)))
      return cached;
    const [top, groups] = await Promise.all([
      run.completedCombinations > 0 ? this.topTrials(run.id) : [],
      run.failedCombinations > 0 ? this.failureGroups(run.id) : [],
    ]);
    const fresh: TrialReads = { key, at: now, top, groups };
    this.reads.delete(run.id);
    this.reads.set(run.id, fresh);
    if (this.reads.size > CACHED_RUNS) this.reads.delete(this.reads.keys().next().value as string);
    return fresh;
  }

  private schema(): string {
    return schemaOf(this.db);
  }

  /** The best completed trials so far, by score (higher is better), ties by grid index. */
  private async topTrials(runId: string): Promise<TrialSummary[]> {
    const rows = await this.db.query<TrialRow[]>(
      `SELECT id, index, params, metrics, score FROM "${this.schema()}".trials
        WHERE run_id = $1 AND status = 'Completed' ORDER BY score DESC, index ASC LIMIT ${RESULT_LIMITS.top}`,
      [runId],
    );
    return rows.map((r) => ({ trialId: r.id, index: r.index, params: r.params, metrics: r.metrics, score: r.score }));
  }

  /**
   * Failed trials grouped by error fingerprint, largest group first (ties: the group whose first
   * trial comes first in the grid), each with its first trial's id and message, as in the
   * coordinator's result.
   */
  private async failureGroups(runId: string): Promise<FailureGroup[]> {
    const s = `"${this.schema()}"`;
    const rows = await this.db.query<FailureRow[]>(
      `SELECT g.fingerprint, g.count, t.error_message AS message, t.id AS sample_trial_id
         FROM (SELECT fingerprint, count(*)::int AS count, min(index) AS first_index
                 FROM ${s}.trials WHERE run_id = $1 AND status = 'Failed' GROUP BY fingerprint) g
         JOIN ${s}.trials t ON t.run_id = $1 AND t.index = g.first_index
        ORDER BY g.count DESC, g.first_index LIMIT ${RESULT_LIMITS.failureGroups}`,
      [runId],
    );
    return rows.map((r) => ({
      fingerprint: r.fingerprint,
      message: clipText(r.message, RESULT_LIMITS.failureMessage),
      count: r.count,
      sampleTrialId: r.sample_trial_id,
    }));
  }
}
