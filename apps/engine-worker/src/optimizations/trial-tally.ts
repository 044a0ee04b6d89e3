import {
  clipText,
  RESULT_LIMITS,
  trialOutcomesOf,
  type OptimizationRequest,
  type OptimizationResultPayload,
  type RunEvent,
  type TrialBatch,
  type TrialBatchSettled,
  type TrialOutcome,
  type TrialSummary,
} from '@runforge/contracts';

/** Best first: higher score, then the earlier trial in the grid (the order of a result's `top`). */
export function byRank(a: Pick<TrialSummary, 'score' | 'index'>, b: Pick<TrialSummary, 'score' | 'index'>): number {
  return b.score - a.score || a.index - b.index;
}

/**
 * What a delivery of a trial batch tells the coordinator once its outcomes are stored: every trial
 * it recorded, its best `RESULT_LIMITS.top` completed trials, and per kind of failure its first
 * failed trial in the grid with the message. Enough for the coordinator's counts and the run's
 * result without reading each outcome back from the stream.
 */
export function summarizeBatch(batch: TrialBatch, outcomes: readonly TrialOutcome[]): TrialBatchSettled {
  const top: TrialSummary[] = [];
  const failures = new Map<string, TrialBatchSettled['failures'][number]>();
  for (const o of outcomes) {
    if (o.status === 'Completed') {
      top.push({ trialId: o.trialId, index: o.index, params: o.params, metrics: o.metrics, score: o.score });
      continue;
    }
    const seen = failures.get(o.fingerprint);
    if (!seen || o.index < seen.sampleIndex)
      failures.set(o.fingerprint, {
        fingerprint: o.fingerprint,
        message: clipText(o.errorMessage, RESULT_LIMITS.failureMessage),
        sampleTrialId: o.trialId,
        sampleIndex: o.index,
      });
  }
  return {
    type: 'TrialBatchSettled',
    version: 1,
    runId: batch.runId,
    attempt: batch.attempt,
    batchIndex: batch.batchIndex,
    outcomes: outcomes.map((o) =>
      o.status === 'Failed'
        ? { trialId: o.trialId, index: o.index, fingerprint: o.fingerprint }
        : { trialId: o.trialId, index: o.index },
    ),
    top: top.sort(byRank).slice(0, RESULT_LIMITS.top),
    failures: [...failures.values()],
  };
}

interface FailureGroup {
  fingerprint: string;
  message: string;
  count: number;
  sampleTrialId: string;
  /** Grid index of the sample: the group's first trial in the grid (also the tie-break). */
  sampleIndex: number;
}

/**
 * The coordinator's view of a run: every trial with a recorded outcome (by id, so an outcome heard
 * twice — from the stream and from a batch's summary, or from a batch run twice — counts once), the
 * best trials and the failure groups. Folded from the run's stored trial events (`apply`) and from
 * the workers' batch summaries (`applySettled`), in any mix and order.
 */
export class OptimizationTally {
  readonly done = new Set<string>();
  completed = 0;
  failed = 0;
  top: TrialSummary[] = [];
  readonly failures = new Map<string, FailureGroup>();

  /** A stored event of the run; returns whether it recorded a trial not counted before. */
  apply(event: RunEvent): boolean {
    let news = false;
    for (const o of trialOutcomesOf(event)) {
      if (this.done.has(o.trialId)) continue;
      this.done.add(o.trialId);
      news = true;
      if (o.status === 'Completed') {
        this.completed++;
        this.rank([{ trialId: o.trialId, index: o.index, params: o.params, metrics: o.metrics, score: o.score }]);
      } else {
        this.failed++;
        this.countFailure(o.fingerprint, {
          message: clipText(o.errorMessage, RESULT_LIMITS.failureMessage),
          sampleTrialId: o.trialId,
          sampleIndex: o.index,
        });
      }
    }
    return news;
  }

  /**
   * A batch's summary; returns whether it recorded a trial not counted before. Its `top` holds every
   * trial of the batch that can rank (the batch's best), and its `failures` each kind's first trial
   * in the batch, the only one of the kind that can be a group's sample.
   */
  applySettled(summary: TrialBatchSettled): boolean {
    const fresh = new Set<string>();
    for (const o of summary.outcomes) {
      if (this.done.has(o.trialId)) continue;
      this.done.add(o.trialId);
      fresh.add(o.trialId);
      if (o.fingerprint === undefined) this.completed++;
      else {
        this.failed++;
        this.countFailure(o.fingerprint);
      }
    }
    this.rank(summary.top.filter((t) => fresh.has(t.trialId)));
    for (const f of summary.failures) {
      const group = this.failures.get(f.fingerprint);
      if (group && fresh.has(f.sampleTrialId) && f.sampleIndex <= group.sampleIndex)
        Object.assign(group, { message: f.message, sampleTrialId: f.sampleTrialId, sampleIndex: f.sampleIndex });
    }
    return fresh.size > 0;
  }

  private rank(candidates: readonly TrialSummary[]): void {
    if (candidates.length === 0) return;
    this.top.push(...candidates);
    this.top.sort(byRank);
    if (this.top.length > RESULT_LIMITS.top) this.top.length = RESULT_LIMITS.top;
  }

  /**
   * One more failed trial of a kind. The group's sample is its first trial in the grid, whatever
   * order outcomes arrive in (the status endpoint picks the same one from the trials table); a
   * summary's count comes without a sample, which `applySettled` then offers.
   */
  private countFailure(fingerprint: string, sample?: Omit<FailureGroup, 'fingerprint' | 'count'>): void {
    const g = this.failures.get(fingerprint);
    if (!g) {
      this.failures.set(fingerprint, {
        fingerprint,
        count: 1,
        ...(sample ?? { message: '', sampleTrialId: '', sampleIndex: Number.MAX_SAFE_INTEGER }),
      });
      return;
    }
    g.count++;
    if (sample && sample.sampleIndex < g.sampleIndex) Object.assign(g, sample);
  }

  /** Largest group first; ties by the group's first trial in the grid. */
  failureGroups(): Omit<FailureGroup, 'sampleIndex'>[] {
    return [...this.failures.values()]
      .sort((a, b) => b.count - a.count || a.sampleIndex - b.sampleIndex)
      .slice(0, RESULT_LIMITS.failureGroups)
      .map(({ sampleIndex: _i, ...group }) => group);
  }

  result(objective: OptimizationRequest['objective']): OptimizationResultPayload {
    return { objective, best: this.top[0] ?? null, top: this.top, failures: this.failureGroups() };
  }
}
