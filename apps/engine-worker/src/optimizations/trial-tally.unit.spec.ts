import {
  createEvent,
  decodeTrialBatchSettled,
  RESULT_LIMITS,
  type TrialBatch,
  type TrialOutcome,
} from '@runforge/contracts';
import { OptimizationTally, summarizeBatch } from './trial-tally';

const runId = 'run-1';
const meta = { runId, attempt: 1, occurredAt: '2026-12-06T00:00:00.000Z' };

/** A deterministic pseudo-random sequence (the same grid every run). */
function lcg(seed: number): () => number {
  let x = seed;
  return () => {
    x = (x * 1_103_515_245 + 12_345) % 2 ** 31;
    return x / 2 ** 31;
  };
}

/**
 * `n` outcomes: scores with ties (rounded), and failures of three kinds whose messages differ by
 * trial, so a group's message shows which trial was taken as its sample.
 */
function outcomes(n: number, seed: number, failShare = 0.3): TrialOutcome[] {
  const rand = lcg(seed);
  return Array.from({ length: n }, (_, index): TrialOutcome => {
    const base = { trialId: `t${index}`, index, params: { fast: index }, durationMs: 1, workerId: 'w' };
    if (rand() < failShare) {
      const kind = Math.floor(rand() * 3);
      return {
        ...base,
        status: 'Failed',
        errorMessage: `kind ${kind} failed at trial ${index}`,
        errorStackTrace: 'Error\n    at x',
        fingerprint: `fp${kind}`,
      };
    }
    const score = Math.round(rand() * 20) / 10;
    return { ...base, status: 'Completed', metrics: { sharpe: score }, score };
  });
}

function eventOf(o: TrialOutcome): ReturnType<typeof createEvent> {
  const { status, ...data } = o;
  return status === 'Completed'
    ? createEvent('TrialCompleted', meta, data as Parameters<typeof createEvent<'TrialCompleted'>>[2])
    : createEvent('TrialFailed', meta, data as Parameters<typeof createEvent<'TrialFailed'>>[2]);
}

function batchOf(batchIndex: number, os: readonly TrialOutcome[]): TrialBatch {
  return {
    type: 'TrialBatch',
    version: 1,
    runId,
    attempt: 1,
    batchIndex,
    request: {} as TrialBatch['request'],
    trials: os.map((o) => ({ trialId: o.trialId, index: o.index, params: o.params })),
  };
}

/** Splits outcomes into batches of `size`, in a shuffled order (batches finish in any order). */
function batches(os: readonly TrialOutcome[], size: number, seed: number): TrialOutcome[][] {
  const out: TrialOutcome[][] = [];
  for (let i = 0; i < os.length; i += size) out.push(os.slice(i, i + size));
  const rand = lcg(seed);
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    [out[i], out[j]] = [out[j] as TrialOutcome[], out[i] as TrialOutcome[]];
  }
  return out;
}

/** The tally folded from every outcome's own stored event: what the coordinator had to read before. */
function fromEvents(os: readonly TrialOutcome[]): OptimizationTally {
  const t = new OptimizationTally();
  for (const o of os) t.apply(eventOf(o));
  return t;
}

function view(t: OptimizationTally): unknown {
  return {
    done: t.done.size,
    completed: t.completed,
    failed: t.failed,
    result: t.result({ metric: 'sharpe', direction: 'maximize' }),
  };
}

describe('batch summaries (the coordinator counts these instead of every outcome event)', () => {
  it.each([
    ['small batches, a third failing', 200, 7, 1, 0.3],
    ['one batch', 50, 50, 2, 0.3],
    ['everything fails', 120, 13, 3, 1],
    ['nothing fails, many ties', 300, 11, 4, 0],
  ])('%s: the same counts, top and failure groups as folding every event', (_name, n, size, seed, failShare) => {
    const os = outcomes(n, seed, failShare);
    const tally = new OptimizationTally();
    for (const [i, b] of batches(os, size, seed).entries()) {
      // Through the wire format: what the coordinator decodes.
      const summary = decodeTrialBatchSettled(JSON.parse(JSON.stringify(summarizeBatch(batchOf(i, b), b))));
      expect(tally.applySettled(summary)).toBe(true);
    }
    expect(view(tally)).toEqual(view(fromEvents(os)));
  });

  it('mixes with outcomes read from the stream, and counts an outcome heard twice once', () => {
    const os = outcomes(240, 5);
    const tally = new OptimizationTally();
    const parts = batches(os, 16, 5);
    // A takeover read some batches' outcomes from the stream (one batch only in part)...
    for (const b of parts.slice(0, 4)) for (const o of b) tally.apply(eventOf(o));
    for (const o of (parts[4] as TrialOutcome[]).slice(0, 5)) tally.apply(eventOf(o));
    // ...then hears every batch's summary, those it already read included, and one summary twice.
    for (const [i, b] of [...parts.entries(), [4, parts[4]] as const])
      tally.applySettled(summarizeBatch(batchOf(i, b as TrialOutcome[]), b as TrialOutcome[]));
    expect(view(tally)).toEqual(view(fromEvents(os)));
    expect(tally.applySettled(summarizeBatch(batchOf(0, parts[0] as TrialOutcome[]), parts[0] as TrialOutcome[]))).toBe(
      false,
    );
  });

  it('a redelivered batch tells only the trials it ran; together they count the whole batch', () => {
    const os = outcomes(40, 9);
    const first = os.slice(0, 25);
    const second = os.slice(25);
    const tally = new OptimizationTally();
    tally.applySettled(summarizeBatch(batchOf(0, first), second)); // the redelivery's summary arrives first
    tally.applySettled(summarizeBatch(batchOf(0, first), first));
    expect(view(tally)).toEqual(view(fromEvents(os)));
  });

  it('keeps a summary small: the batch best RESULT_LIMITS.top, one failure per kind, its first in the grid', () => {
    const os = outcomes(500, 3);
    const s = summarizeBatch(batchOf(0, os), [...os].reverse());
    expect(s.outcomes).toHaveLength(500);
    expect(s.top).toHaveLength(RESULT_LIMITS.top);
    expect(s.top.map((t) => t.score)).toEqual([...s.top.map((t) => t.score)].sort((a, b) => b - a));
    expect(s.failures.map((f) => f.fingerprint).sort()).toEqual(['fp0', 'fp1', 'fp2']);
    for (const f of s.failures) {
      const firstOfKind = os.find((o) => o.status === 'Failed' && o.fingerprint === f.fingerprint);
      expect(f.sampleTrialId).toBe(firstOfKind?.trialId);
      expect(f.message).toBe(`${f.fingerprint.replace('fp', 'kind ')} failed at trial ${f.sampleIndex}`);
    }
    expect(s.outcomes.filter((o) => o.fingerprint !== undefined)).toHaveLength(
      os.filter((o) => o.status === 'Failed').length,
    );
  });
});
