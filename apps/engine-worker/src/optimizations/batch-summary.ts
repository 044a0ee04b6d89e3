import {
  clipText,
  RESULT_LIMITS,
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
