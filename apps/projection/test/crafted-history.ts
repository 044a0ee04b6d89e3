import { TestBus } from '../../../test/support/bus';
import { createEvent, type EventDataInput, type RunEventType } from '@runforge/contracts';

/**
 * A hand-crafted event history covering what a fold must get right: a retry (attempt 2 after an
 * abandoned attempt 1) with stale events of attempt 1 arriving late, a cancellation before start
 * and one during a run, an optimization with failed and redelivered trials, a dead-lettered run,
 * and a chatty run with logs at every level. Times are fixed so listings are deterministic.
 */
export const T0 = Date.parse('2026-03-01T10:00:00.000Z');
export const at = (s: number): string => new Date(T0 + s * 1000).toISOString();

/** A backtest's `RunRequested` data (sma-crossover over a synthetic dataset). */
export const backtest = (fast: number, slow: number, bars = 1000) => ({
  kind: 'backtest' as const,
  request: {
    strategy: 'sma-crossover',
    params: { fast, slow },
    dataset: { synthetic: { bars, seed: 1, timeframe: '1m' } },
  },
  totalBars: bars,
  triggeredBy: 'api' as const,
});

/**
 * Publishes events at fixed times (`at(s)`), each with its own message id, and counts them: the
 * helper both histories below publish through.
 */
export function eventPublisher(bus: TestBus): {
  pub: <T extends RunEventType>(
    type: T,
    runId: string,
    attempt: number,
    s: number,
    data: EventDataInput<T>,
  ) => Promise<void>;
  count: () => number;
} {
  let n = 0;
  return {
    pub: async (type, runId, attempt, s, data) => {
      n += 1;
      await bus.publish(createEvent(type, { runId, attempt, occurredAt: at(s) }, data), { discriminator: n });
    },
    count: () => n,
  };
}

/** A backtest that ran and completed within seconds: its request, start and end. */
export async function publishCompletedBacktest(bus: TestBus, runId: string): Promise<void> {
  const meta = (attempt: number, s: number) => ({ runId, attempt, occurredAt: at(s) });
  await bus.publish(createEvent('RunRequested', meta(0, 0), backtest(5, 20, 100)));
  await bus.publish(createEvent('RunStarted', meta(1, 1), { workerId: 'w1', totalBars: 100 }));
  await bus.publish(
    createEvent('RunCompleted', meta(1, 2), {
      durationMs: 5,
      processedBars: 100,
      result: { metrics: { sharpe: 1 }, equityCurve: [], bars: 100 },
    }),
  );
}

export interface Crafted {
  readonly ids: {
    completed: string;
    retried: string;
    cancelledPending: string;
    cancelledRunning: string;
    optimization: string;
    deadLetter: string;
    chatty: string;
    scheduled: string;
  };
  /** Number of events published. */
  readonly count: number;
}

export async function publishCraftedHistory(bus: TestBus, prefix: string): Promise<Crafted> {
  const ids = {
    completed: `${prefix}-completed`,
    retried: `${prefix}-retried`,
    cancelledPending: `${prefix}-cancelpend`,
    cancelledRunning: `${prefix}-cancelrun`,
    optimization: `${prefix}-optim`,
    deadLetter: `${prefix}-dead`,
    chatty: `${prefix}-chatty`,
    scheduled: `${prefix}-sched`,
  };
  const { pub, count } = eventPublisher(bus);

  // A plain completed backtest.
  await pub('RunRequested', ids.completed, 0, 0, backtest(10, 30));
  await pub('RunStarted', ids.completed, 1, 1, { workerId: 'w1', totalBars: 1000 });
  await pub('BarProgressed', ids.completed, 1, 2, { processedBars: 500, totalBars: 1000 });
  await pub('RunLogged', ids.completed, 1, 2, { level: 'INFO', message: 'halfway' });
  await pub('RunCompleted', ids.completed, 1, 3, {
    durationMs: 2000,
    processedBars: 1000,
    result: { metrics: { sharpe: 1.5, trades: 3 }, equityCurve: [{ t: 1, equity: 10_000 }], bars: 1000 },
  });

  // Attempt 1 is abandoned; attempt 2 completes; attempt 1's late events change nothing.
  await pub('RunRequested', ids.retried, 0, 10, backtest(5, 20));
  await pub('RunStarted', ids.retried, 1, 11, { workerId: 'w1', totalBars: 1000 });
  await pub('BarProgressed', ids.retried, 1, 12, { processedBars: 300, totalBars: 1000 });
  await pub('RunAttemptAbandoned', ids.retried, 0, 13, { abandonedAttempt: 1, reason: 'heartbeat_lost' });
  await pub('RunLogged', ids.retried, 2, 14, { level: 'WARNING', message: 'resuming after attempt 1 was abandoned' });
  await pub('RunStarted', ids.retried, 2, 14, { workerId: 'w2', totalBars: 1000 });
  await pub('BarProgressed', ids.retried, 2, 15, { processedBars: 200, totalBars: 1000 });
  await pub('BarProgressed', ids.retried, 1, 16, { processedBars: 900, totalBars: 1000 }); // stale
  await pub('RunFailed', ids.retried, 1, 17, { errorMessage: 'stale attempt failure', reason: 'error' }); // stale
  await pub('RunCompleted', ids.retried, 2, 18, {
    durationMs: 4000,
    processedBars: 1000,
    result: { metrics: { sharpe: 0.7 }, equityCurve: [], bars: 1000 },
  });

  // Cancelled before any worker started it; a late RunStarted does not revive it.
  await pub('RunRequested', ids.cancelledPending, 0, 20, backtest(8, 21));
  await pub('RunCancellationRequested', ids.cancelledPending, 0, 21, { requestedBy: 'api' });
  await pub('RunStarted', ids.cancelledPending, 1, 22, { workerId: 'w3', totalBars: 1000 });

  // Cancelled while running.
  await pub('RunRequested', ids.cancelledRunning, 0, 30, backtest(9, 40));
  await pub('RunStarted', ids.cancelledRunning, 1, 31, { workerId: 'w1', totalBars: 1000 });
  await pub('RunCancellationRequested', ids.cancelledRunning, 0, 32, { requestedBy: 'api', reason: 'operator' });
  await pub('RunCancelled', ids.cancelledRunning, 1, 33, { processedBars: 400, reason: 'operator' });

  // An optimization with a failed trial, a redelivered trial (counted once) and a late one (not counted).
  await pub('RunRequested', ids.optimization, 0, 40, {
    kind: 'optimization',
    request: {
      strategy: 'sma-crossover',
      axes: { fast: [5, 10, 40], slow: [30] },
      dataset: { synthetic: { bars: 500, seed: 2, timeframe: '1h' } },
    },
    totalBars: 500,
    totalCombinations: 3,
    triggeredBy: 'api',
  });
  await pub('RunStarted', ids.optimization, 1, 41, { workerId: 'w1', totalBars: 500 });
  const trial = (index: number, fast: number) => ({
    trialId: `${ids.optimization}-t${index}`,
    index,
    params: { fast, slow: 30 },
    durationMs: 10,
    workerId: 'w1',
  });
  await pub('TrialCompleted', ids.optimization, 1, 42, { ...trial(0, 5), metrics: { sharpe: 1 }, score: 1 });
  await pub('TrialCompleted', ids.optimization, 1, 43, { ...trial(1, 10), metrics: { sharpe: 2 }, score: 2 });
  await pub('TrialCompleted', ids.optimization, 2, 44, { ...trial(1, 10), metrics: { sharpe: 2 }, score: 2 }); // redelivered
  await pub('TrialFailed', ids.optimization, 1, 45, {
    ...trial(2, 40),
    errorMessage: 'fast (40) must be less than slow (30)',
    errorStackTrace: 'Error: fast (40) must be less than slow (30)\n    at validate',
    fingerprint: 'fast-ge-slow',
  });
  await pub('RunCompleted', ids.optimization, 1, 46, {
    durationMs: 100,
    completedCombinations: 2,
    failedCombinations: 1,
    result: { objective: { metric: 'sharpe', direction: 'maximize' }, best: null, top: [], failures: [] },
  });
  // A trial reporting after its run ended (it was still running when the run stopped): not counted, not listed.
  await pub('TrialsRecorded', ids.optimization, 1, 47, {
    outcomes: [{ ...trial(3, 20), status: 'Completed', metrics: { sharpe: 3 }, score: 3 }],
  });

  // Dead letter: every attempt lost.
  await pub('RunRequested', ids.deadLetter, 0, 50, backtest(11, 31));
  await pub('RunStarted', ids.deadLetter, 1, 51, { workerId: 'w1', totalBars: 1000 });
  await pub('RunAttemptAbandoned', ids.deadLetter, 0, 52, { abandonedAttempt: 1, reason: 'heartbeat_lost' });
  await pub('RunFailed', ids.deadLetter, 0, 53, {
    errorMessage: 'gave up after 1 attempt(s)',
    reason: 'attempts_exhausted',
  });

  // A chatty run: 120 log lines cycling through the levels.
  await pub('RunRequested', ids.chatty, 0, 60, backtest(12, 32));
  await pub('RunStarted', ids.chatty, 1, 61, { workerId: 'w1', totalBars: 1000 });
  const levels = ['DEBUG', 'INFO', 'WARNING', 'ERROR'] as const;
  for (let i = 0; i < 120; i++) {
    await pub('RunLogged', ids.chatty, 1, 62, { level: levels[i % 4] ?? 'INFO', message: `line ${i}`, context: { i } });
  }

  // Triggered by a schedule, same requested time as the chatty run (tie broken by id).
  await pub('RunRequested', ids.scheduled, 0, 60, {
    ...backtest(13, 33),
    request: { ...backtest(13, 33).request, strategy: 'sma-crossover' },
    triggeredBy: 'schedule',
    scheduleId: `${prefix}-daily`,
  });
  return { ids, count: count() };
}
