import { connect } from '@nats-io/transport-node';
import { decodeEvent, isRunEnd, type RunEvent } from '@runforge/contracts';
import { eventually } from '../support/eventually';
import { statusOf, TERMINAL, withBus } from '../support/runs';
import { http, NATS_URL, TestSystem, type ServiceProcess } from '../support/system';

// A run's terminal event (RunCompleted, RunFailed, RunCancelled) is the last event of its history:
// an auditor reading `runs.<id>.>` up to it knows the run is over. Every way a run ends is driven
// here with real workers (two, so an optimization's batches run on both); once every run has ended,
// the workers are stopped (SIGTERM: they finish and store what they were doing) and each history is
// read whole. Anything written after an end — a late trial outcome, a log line about the end — would
// be in it.

/** Runs last a few seconds: every engine chunk (65,536 bars) is followed by a 40 ms pause. */
const SLOW = { RUNFORGE_TEST_CHUNK_DELAY_MS: '40', RUNFORGE_PROGRESS_INTERVAL_MS: '0' };
const POISON_SEED = 666;

type Kind = 'backtest' | 'optimization';
const backtest = (bars: number, extra: Record<string, unknown> = {}) => ({
  strategy: 'sma-crossover',
  params: { fast: 10, slow: 30 },
  dataset: { synthetic: { bars, seed: 11, timeframe: '1m' } },
  ...extra,
});
/** fast 2..40 × slow {20, 30, 50, 80, 120}: 195 trials, 32 of which fail (fast >= slow). */
const optimization = (bars: number, extra: Record<string, unknown> = {}) => ({
  strategy: 'sma-crossover',
  axes: { fast: { min: 2, max: 40, step: 1 }, slow: [20, 30, 50, 80, 120] },
  dataset: { synthetic: { bars, seed: 7, timeframe: '1h' } },
  ...extra,
});

describe("a run's terminal event is the last event of its history, however it ends", () => {
  let sys: TestSystem;
  const runs: { name: string; kind: Kind; id: string; expected: { status: string; failureReason?: string } }[] = [];

  async function submit(name: string, kind: Kind, body: unknown, expected: (typeof runs)[number]['expected']) {
    const r = await http<{ id: string }>(sys.gateway.url, 'POST', `/api/${kind}s`, body);
    expect(r.status).toBe(202);
    runs.push({ name, kind, id: r.body.id, expected });
    return r.body.id;
  }

  async function waitRunning(kind: Kind, id: string, progressed: (s: Awaited<ReturnType<typeof statusOf>>) => boolean) {
    await eventually(
      'the run to be under way',
      () => statusOf(sys, kind, id),
      (s) => s.status === 'Running' && progressed(s),
      {
        timeoutMs: 60_000,
        intervalMs: 50,
      },
    );
  }

  async function cancel(kind: Kind, id: string): Promise<void> {
    const r = await http(sys.gateway.url, 'POST', `/api/${kind}s/${id}/cancel`);
    expect([200, 202]).toContain(r.status);
  }

  beforeAll(async () => {
    sys = await TestSystem.start(['gateway', 'projection', 'engine-worker', 'engine-worker'], SLOW);
  });

  afterAll(async () => {
    await sys?.stop();
  });

  it('completes, fails, is cancelled or runs out of attempts, and nothing follows the end', async () => {
    // Every trial's failure is its own event on runs.<id>.trial_failed, live (as `nats sub
    // 'runs.*.trial_failed'` shows it).
    const nc = await connect({ servers: NATS_URL });
    const failedLive: Extract<RunEvent, { type: 'TrialFailed' }>[] = [];
    nc.subscribe(sys.iso.topology.anyRunSubject('trial_failed'), {
      callback: (err, m) => {
        const e = err ? undefined : decodeEvent(m.json());
        if (e?.type === 'TrialFailed') failedLive.push(e);
      },
    });
    await submit('backtest completed', 'backtest', backtest(50_000), { status: 'Completed' });
    const withFailures = await submit('optimization completed (some trials failed)', 'optimization', optimization(2_000), {
      status: 'Completed',
    });
    await eventually(
      'the 32 failed trials of the grid live on trial_failed',
      () => Promise.resolve(failedLive.filter((e) => e.runId === withFailures)),
      (seen) => seen.length === 32,
    );
    await nc.close();
    for (const e of failedLive.filter((f) => f.runId === withFailures)) {
      expect(e.data.errorMessage).toMatch(/fast \(\d+\) must be less than slow \(\d+\)/);
      expect(e.data.errorStackTrace).toEqual(expect.any(String));
      expect(e.data.params.fast).toBeGreaterThanOrEqual(e.data.params.slow as number);
      expect(e.data.fingerprint).toEqual(expect.any(String));
    }
    await submit(
      'optimization stopped by maxFailedTrials',
      'optimization',
      optimization(20_000, { maxFailedTrials: 3 }),
      {
        status: 'Failed',
        failureReason: 'failed_trials',
      },
    );
    await submit(
      'optimization whose every trial failed',
      'optimization',
      optimization(2_000, { axes: { fast: [30, 40], slow: [20, 25] } }),
      { status: 'Failed', failureReason: 'all_trials_failed' },
    );
    await submit('backtest over its time budget', 'backtest', backtest(3_000_000, { timeoutSeconds: 1 }), {
      status: 'Failed',
      failureReason: 'timeout',
    });
    const cancelledBacktest = await submit('backtest cancelled while running', 'backtest', backtest(3_000_000), {
      status: 'Cancelled',
    });
    await waitRunning('backtest', cancelledBacktest, (s) => s.processedBars > 0);
    await cancel('backtest', cancelledBacktest);
    // 195 trials over 200,000 bars with a pause per chunk: both workers are mid-batch when it is cancelled.
    const cancelledGrid = await submit('optimization cancelled while running', 'optimization', optimization(200_000), {
      status: 'Cancelled',
    });
    await waitRunning('optimization', cancelledGrid, (s) => (s.completedCombinations ?? 0) > 0);
    await cancel('optimization', cancelledGrid);

    // Every run above must end before the poison run takes the workers down.
    await eventually(
      'every run so far to end',
      () => Promise.all(runs.map((r) => statusOf(sys, r.kind, r.id))),
      (all) => all.every((s) => TERMINAL.includes(s.status)),
      { timeoutMs: 120_000, intervalMs: 200 },
    );

    // A poison run (it kills the worker that starts it) with no retries to spare: only poison-sensitive
    // workers from here on, then a clean one that finds the attempts used up.
    const live = (): ServiceProcess[] =>
      sys.processes.filter(
        (p) => p.name === 'engine-worker' && p.child.exitCode === null && p.child.signalCode === null,
      );
    for (const w of live()) await sys.kill(w, 'SIGTERM');
    const poisoned = await sys.spawn('engine-worker', { ...SLOW, RUNFORGE_TEST_CRASH_ON_SEED: String(POISON_SEED) });
    await submit(
      'backtest whose attempts ran out',
      'backtest',
      {
        ...backtest(50_000),
        dataset: { synthetic: { bars: 50_000, seed: POISON_SEED, timeframe: '1m' } },
        maxRetries: 0,
      },
      { status: 'Failed', failureReason: 'attempts_exhausted' },
    );
    await poisoned.exited;
    await sys.spawn('engine-worker', SLOW);

    const finals = await eventually(
      'every run to end',
      () => Promise.all(runs.map((r) => statusOf(sys, r.kind, r.id))),
      (all) => all.every((s) => TERMINAL.includes(s.status)),
      { timeoutMs: 120_000, intervalMs: 200 },
    );
    for (const [i, r] of runs.entries())
      expect({ run: r.name, ...finals[i] }).toMatchObject({ run: r.name, ...r.expected });

    // Workers stop only once what they run is stored: whatever they might still write is written.
    for (const w of live()) await sys.kill(w, 'SIGTERM');

    await withBus(sys, async (bus) => {
      for (const r of runs) {
        const history = await bus.history(r.id);
        const ends = history.filter((h) => isRunEnd(h.event));
        expect({ run: r.name, ends: ends.length }).toEqual({ run: r.name, ends: 1 });
        const last = history[history.length - 1];
        expect({ run: r.name, last: last?.event.type }).toEqual({ run: r.name, last: ends[0]?.event.type });
      }
    });
  });
});
