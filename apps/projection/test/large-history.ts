import { TestBus } from '../../../test/support/bus';

import { eventPublisher } from './crafted-history';

/**
 * A history whose bytes are dominated by large `TrialsRecorded` events, like the optimizations that
 * made the stream reader hang once `RUNS` outgrew the server's per-client pending limit (64 MB):
 * failed trials carry long stack traces, so one event is ~`outcomesPerEvent × stackChars` bytes.
 * Every run is an optimization: requested, started, progress and log lines, its trial events, and
 * completed. Deterministic (no clock, no randomness), so a test can compute what it expects.
 */
export interface LargeHistoryOptions {
  readonly runs: number;
  /** `TrialsRecorded` events per run; their outcome counts cycle through `outcomesPerEvent`. */
  readonly trialEventsPerRun: number;
  readonly outcomesPerEvent: readonly number[];
  /** Characters of each failed trial's stack trace (at most 50,000, the contract's limit). */
  readonly stackChars: number;
  /** `BarProgressed` and `RunLogged` events per run (small ones, between the large). */
  readonly smallEventsPerRun: number;
}

export interface LargeHistory {
  readonly runIds: string[];
  /** Events published, in publish (= stream) order per run. */
  readonly count: number;
  /** Trials recorded per run. */
  readonly trialsPerRun: number;
}

export async function publishLargeHistory(bus: TestBus, prefix: string, o: LargeHistoryOptions): Promise<LargeHistory> {
  const runIds: string[] = [];
  const { pub, count } = eventPublisher(bus);
  const stack = (i: number): string => {
    const frame = `\n    at strategy.step (strategies/sma-crossover.ts:${i % 997}:17)`;
    return `Error: fast (${i}) must be less than slow (30)${frame.repeat(Math.ceil(o.stackChars / frame.length))}`.slice(
      0,
      o.stackChars,
    );
  };
  const outcomesOf = (e: number): number => o.outcomesPerEvent[e % o.outcomesPerEvent.length] ?? 1;
  let trialsPerRun = 0;
  for (let e = 0; e < o.trialEventsPerRun; e++) trialsPerRun += outcomesOf(e);

  for (let r = 0; r < o.runs; r++) {
    const runId = `${prefix}-big${r}`;
    runIds.push(runId);
    const t0 = r * 1000;
    await pub('RunRequested', runId, 0, t0, {
      kind: 'optimization',
      request: {
        strategy: 'sma-crossover',
        axes: { fast: { min: 1, max: trialsPerRun, step: 1 }, slow: [30] },
        dataset: { synthetic: { bars: 1000, seed: r, timeframe: '1h' } },
      },
      totalBars: 1000,
      totalCombinations: trialsPerRun,
      triggeredBy: 'api',
    });
    await pub('RunStarted', runId, 1, t0 + 1, { workerId: 'w1', totalBars: 1000 });
    let index = 0;
    for (let e = 0; e < o.trialEventsPerRun; e++) {
      // The small events interleave with the large ones, as progress and logs do in a real run.
      const small =
        Math.floor(o.smallEventsPerRun / o.trialEventsPerRun) + (e < o.smallEventsPerRun % o.trialEventsPerRun ? 1 : 0);
      for (let k = 0; k < small; k++) {
        if (k % 2 === 0) await pub('BarProgressed', runId, 1, t0 + 2, { processedBars: index, totalBars: 1000 });
        else await pub('RunLogged', runId, 1, t0 + 2, { level: 'WARNING', message: `batch ${e}: line ${k}` });
      }
      const outcomes = Array.from({ length: outcomesOf(e) }, () => {
        const i = index++;
        return {
          status: 'Failed' as const,
          trialId: `${runId}-t${i}`,
          index: i,
          params: { fast: i + 1, slow: 30 },
          errorMessage: `fast (${i + 1}) must be less than slow (30)`,
          errorStackTrace: stack(i),
          fingerprint: 'fast-ge-slow',
          durationMs: 3,
          workerId: 'w1',
        };
      });
      await pub('TrialsRecorded', runId, 1, t0 + 3, { outcomes });
    }
    await pub('RunCompleted', runId, 1, t0 + 4, {
      durationMs: 4000,
      completedCombinations: 0,
      failedCombinations: trialsPerRun,
      result: { objective: { metric: 'sharpe', direction: 'maximize' }, best: null, top: [], failures: [] },
    });
  }
  return { runIds, count: count(), trialsPerRun };
}
