import { connect } from '@nats-io/transport-node';
import { jetstreamManager } from '@nats-io/jetstream';
import { createEvent, isRunEnd, trialOutcomesOf } from '@runforge/contracts';
import type { StoredRunEvent } from '@runforge/messaging';
import { eventually } from '../support/eventually';
import { eventsOf, statusOf, TERMINAL, waitForStatus, withBus, workerPidOf } from '../support/runs';
import { http, NATS_URL, TestSystem, type ServiceProcess } from '../support/system';

/** Runs last a few seconds: every engine chunk (65,536 bars) is followed by a 40 ms pause. */
const SLOW_WORKER = { RUNFORGE_TEST_CHUNK_DELAY_MS: '40', RUNFORGE_PROGRESS_INTERVAL_MS: '0' };
/**
 * An optimization with no retries to spare: 50 × 40 = 2,000 trials of ≥ 40 ms each (SLOW_WORKER) in
 * batches of 250 (an eighth of the grid), so a batch lasts ~10 s and a worker is mid-batch when the
 * run ends.
 */
const lastChanceGrid = (seed: number) => ({
  strategy: 'sma-crossover',
  axes: { fast: { min: 2, max: 51, step: 1 }, slow: { min: 60, max: 99, step: 1 } },
  dataset: { synthetic: { bars: 50_000, seed, timeframe: '1h' } },
  maxRetries: 0,
});
const backtest = (bars: number, extra: Record<string, unknown> = {}) => ({
  strategy: 'sma-crossover',
  params: { fast: 10, slow: 30 },
  dataset: { synthetic: { bars, seed: 11, timeframe: '1m' } },
  ...extra,
});

async function submit(sys: TestSystem, body: unknown, headers: Record<string, string> = {}) {
  return http<{ id: string; status: string; totalBars: number }>(
    sys.gateway.url,
    'POST',
    '/api/backtests',
    body,
    headers,
  );
}

describe('cancellation', () => {
  let sys: TestSystem;

  beforeAll(async () => {
    sys = await TestSystem.start(['gateway', 'projection']);
  });
  afterAll(async () => {
    await sys?.stop();
  });
  /** A worker for the tests that need one, whether or not an earlier test started it (any order). */
  const ensureWorker = async (): Promise<void> => {
    if (!sys.processes.some((p) => p.name === 'engine-worker' && p.child.exitCode === null))
      await sys.spawn('engine-worker', SLOW_WORKER);
  };

  it('a Pending run is cancelled without ever starting', async () => {
    const { body } = await submit(sys, backtest(100_000));
    const cancel = await http(sys.gateway.url, 'POST', `/api/backtests/${body.id}/cancel`);
    expect(cancel.status).toBe(200);
    expect(cancel.body).toEqual({ id: body.id, status: 'Cancelled' });
    expect((await statusOf(sys, 'backtest', body.id)).status).toBe('Cancelled');
    // A worker that arrives later acknowledges the run without starting it.
    await sys.spawn('engine-worker', SLOW_WORKER);
    const history = await eventually(
      'the worker to settle the cancelled run',
      () => withBus(sys, (bus) => bus.history(body.id)),
      (h) => h.some((e) => e.event.type === 'RunCancelled'),
    );
    expect(eventsOf(history, 'RunStarted')).toHaveLength(0);
    expect((await statusOf(sys, 'backtest', body.id)).status).toBe('Cancelled');
  });

  it('a Running run stops within a fraction of a second, keeping the progress it reached', async () => {
    await ensureWorker();
    const { body } = await submit(sys, backtest(3_000_000));
    await waitForStatus(
      sys,
      'backtest',
      body.id,
      (s) => s.status === 'Running' && s.processedBars > 0,
      'the run to make progress',
    );
    const cancel = await http(sys.gateway.url, 'POST', `/api/backtests/${body.id}/cancel`);
    // 200 (not 202): the worker confirmed the stop within the gateway's confirmation wait.
    expect(cancel.status).toBe(200);
    expect(cancel.body).toEqual({ id: body.id, status: 'Cancelled' });
    // Read-your-writes: the status read right after the answer already says so.
    const final = await statusOf(sys, 'backtest', body.id);
    expect(final.status).toBe('Cancelled');
    expect(final.processedBars).toBeGreaterThan(0);
    expect(final.processedBars).toBeLessThan(final.totalBars);
  });

  it('a finished run answers 409 with its status; an unknown one 404', async () => {
    const { body } = await submit(sys, backtest(5_000));
    await waitForStatus(sys, 'backtest', body.id, (s) => s.status === 'Completed', 'the small run to complete');
    const again = await http(sys.gateway.url, 'POST', `/api/backtests/${body.id}/cancel`);
    expect(again.status).toBe(409);
    expect(again.body).toMatchObject({ status: 'Completed', message: expect.stringMatching(/already Completed/) });
    const unknown = await http(sys.gateway.url, 'POST', '/api/backtests/no-such-run/cancel');
    expect(unknown.status).toBe(404);
    const wrongKind = await http(sys.gateway.url, 'POST', `/api/optimizations/${body.id}/cancel`);
    expect(wrongKind.status).toBe(404);
  });

  it('a run that exceeds timeoutSeconds is stopped and ends Failed with a timeout message', async () => {
    const { body } = await submit(sys, backtest(3_000_000, { timeoutSeconds: 1 }));
    const final = await waitForStatus(
      sys,
      'backtest',
      body.id,
      (s) => TERMINAL.includes(s.status),
      'the run to time out',
    );
    expect(final).toMatchObject({
      status: 'Failed',
      failureReason: 'timeout',
      errorMessage: expect.stringMatching(/time budget of 1 s/),
    });
  });

  it('Idempotency-Key: the same key returns the same run, a different body 422, and the work runs once', async () => {
    const key = `k-${Date.now()}`;
    const answers = await Promise.all([1, 2, 3, 4].map(() => submit(sys, backtest(5_000), { 'Idempotency-Key': key })));
    const ids = new Set(answers.map((a) => a.body.id));
    expect(answers.map((a) => a.status)).toEqual([202, 202, 202, 202]);
    expect(ids.size).toBe(1);
    const [id] = [...ids] as [string];
    expect(answers[0]?.body).toEqual({ id, status: 'Pending', totalBars: 5_000 });
    const different = await submit(sys, backtest(6_000), { 'Idempotency-Key': key });
    expect(different.status).toBe(422);
    await ensureWorker();
    await waitForStatus(sys, 'backtest', id, (s) => s.status === 'Completed', 'the idempotent run to complete');
    const history = await withBus(sys, (bus) => bus.history(id));
    expect(eventsOf(history, 'RunRequested')).toHaveLength(1);
    expect(eventsOf(history, 'RunCompleted')).toHaveLength(1);
    const later = await submit(sys, backtest(5_000), { 'Idempotency-Key': key });
    expect(later.body).toEqual(answers[0]?.body);
  });
});

describe('crashes, retries, hand-back and fencing (real worker processes)', () => {
  let sys: TestSystem;

  beforeAll(async () => {
    sys = await TestSystem.start(['gateway', 'projection', 'engine-worker', 'engine-worker'], SLOW_WORKER);
  });
  afterAll(async () => {
    await sys?.stop();
  });

  const live = (): ServiceProcess[] =>
    sys.processes.filter((p) => p.name === 'engine-worker' && p.child.exitCode === null && p.child.signalCode === null);
  const workerByPid = (pid: number): ServiceProcess => {
    const w = sys.processes.find((p) => p.child.pid === pid);
    if (!w) throw new Error(`no worker with pid ${pid}`);
    return w;
  };
  const ensureWorkers = async (n: number): Promise<void> => {
    while (live().length < n) await sys.spawn('engine-worker', SLOW_WORKER);
  };
  /**
   * Waits until every trial batch of an ended run has left the work queue, run or dropped. A batch is
   * acked only once its outcomes are stored, so from then on the run's history holds every trial
   * that will ever be recorded for it.
   */
  const expectNoBatchesLeft = async (id: string): Promise<void> => {
    const nc = await connect({ servers: NATS_URL });
    try {
      const jsm = await jetstreamManager(nc);
      const subject = sys.iso.topology.trialWorkSubject(id);
      await eventually(
        'the ended run to have nothing left in the work queue',
        async () =>
          (await jsm.streams.info(sys.iso.topology.streams.work.name, { subjects_filter: subject })).state.subjects?.[
            subject
          ] ?? 0,
        (queued) => queued === 0,
        { timeoutMs: 20_000, intervalMs: 100 },
      );
    } finally {
      await nc.close();
    }
  };
  const endsOf = (history: StoredRunEvent[]): StoredRunEvent[] => history.filter((e) => isRunEnd(e.event));
  /** Trial outcomes stored after the run's end (none of them counts). */
  const recordedAfterTheEnd = (history: StoredRunEvent[]): number => {
    const endSeq = endsOf(history)[0]?.seq ?? Infinity;
    return history.filter((e) => e.seq > endSeq).flatMap((e) => trialOutcomesOf(e.event)).length;
  };

  it('SIGKILL mid-backtest: the run is redelivered, finishes on the other worker, stale events are ignored', async () => {
    await ensureWorkers(2);
    const { body } = await submit(sys, backtest(3_000_000));
    await waitForStatus(
      sys,
      'backtest',
      body.id,
      (s) => s.status === 'Running' && s.processedBars > 0,
      'the run to make progress',
    );
    const victim = workerByPid(workerPidOf(await withBus(sys, (bus) => bus.history(body.id))));
    await sys.kill(victim, 'SIGKILL');
    const resumed = await waitForStatus(sys, 'backtest', body.id, (s) => s.attempt === 2, 'attempt 2 to start', 20_000);
    expect(resumed.status).toBe('Running');

    // A zombie of attempt 1 wakes up: its events must not overwrite attempt 2's state.
    await withBus(sys, async (bus) => {
      const meta = { runId: body.id, attempt: 1, occurredAt: new Date().toISOString() };
      await bus.publish(createEvent('BarProgressed', meta, { processedBars: 2_999_999, totalBars: 3_000_000 }), {
        discriminator: 'zombie-1',
      });
      await bus.publish(createEvent('RunFailed', meta, { errorMessage: 'zombie', reason: 'error' }), {
        discriminator: 'zombie-2',
      });
    });
    const final = await waitForStatus(
      sys,
      'backtest',
      body.id,
      (s) => TERMINAL.includes(s.status),
      'the run to finish on attempt 2',
    );
    expect(final).toMatchObject({ status: 'Completed', attempt: 2, processedBars: 3_000_000 });
    expect(final.errorMessage).toBeUndefined();
    const history = await withBus(sys, (bus) => bus.history(body.id));
    expect(eventsOf(history, 'RunAttemptAbandoned').map((e) => e.data)).toEqual([
      { abandonedAttempt: 1, reason: 'heartbeat_lost' },
    ]);
    expect(eventsOf(history, 'RunStarted').map((e) => e.attempt)).toEqual([1, 2]);
    expect(workerPidOf(history)).not.toBe(victim.child.pid);
  });

  it('SIGKILL of the coordinating worker mid-optimization: another takes over, every trial counted once', async () => {
    await ensureWorkers(2);
    const r = await http<{ id: string; totalCombinations: number }>(sys.gateway.url, 'POST', '/api/optimizations', {
      strategy: 'sma-crossover',
      axes: { fast: { min: 2, max: 40, step: 2 }, slow: [20, 50, 100] },
      dataset: { synthetic: { bars: 200_000, seed: 5, timeframe: '1h' } },
    });
    const id = r.body.id;
    const total = r.body.totalCombinations;
    await waitForStatus(
      sys,
      'optimization',
      id,
      (s) => (s.completedCombinations ?? 0) + (s.failedCombinations ?? 0) > 3,
      'some trials to finish',
    );
    await sys.kill(workerByPid(workerPidOf(await withBus(sys, (bus) => bus.history(id)))), 'SIGKILL');
    await ensureWorkers(2);
    const final = await waitForStatus(
      sys,
      'optimization',
      id,
      (s) => TERMINAL.includes(s.status),
      'the optimization to finish',
      90_000,
    );
    expect(final.status).toBe('Completed');
    expect((final.completedCombinations ?? 0) + (final.failedCombinations ?? 0)).toBe(total);
    // fast >= slow fails: fast 20..40 step 2 with slow 20 → 11 combinations.
    expect(final.failedCombinations).toBe(11);
    expect(final.attempt).toBeGreaterThanOrEqual(2);
    // The new coordinator rebuilt its state from the run's events: it scheduled only the trials
    // without an outcome (or nothing, if the others had all finished by the time it took over).
    const history = await withBus(sys, (bus) => bus.history(id));
    const scheduled = eventsOf(history, 'RunLogged')
      .filter((e) => e.attempt >= 2 && e.data.message.startsWith('scheduled '))
      .map((e) => ({ message: e.data.message, alreadyDone: e.data.context?.alreadyDone as number }));
    expect(scheduled.length).toBeLessThanOrEqual(1);
    for (const { message, alreadyDone } of scheduled) {
      const [, left, all] = /^scheduled (\d+) of (\d+) trials/.exec(message) ?? [];
      expect(Number(all)).toBe(total);
      // State rebuilt from the events: it knew of finished trials and scheduled fewer than all.
      expect(alreadyDone).toBeGreaterThan(0);
      expect(Number(left)).toBeLessThan(total);
    }
  });

  it('SIGKILL of a worker running trial batches: its batch goes to the other worker, which runs only the trials not yet recorded', async () => {
    await ensureWorkers(2);
    const r = await http<{ id: string; totalCombinations: number }>(sys.gateway.url, 'POST', '/api/optimizations', {
      strategy: 'sma-crossover',
      axes: { fast: { min: 2, max: 60, step: 1 }, slow: [100, 200] },
      dataset: { synthetic: { bars: 200_000, seed: 8, timeframe: '1h' } },
    });
    const id = r.body.id;
    const total = r.body.totalCombinations;
    // Both workers take batches; the one that does not coordinate dies once it has recorded some.
    await waitForStatus(sys, 'optimization', id, (s) => s.status === 'Running', 'the optimization to start');
    const coordinatorPid = workerPidOf(await withBus(sys, (bus) => bus.history(id)));
    const history = await eventually(
      'the other worker to record trials',
      () => withBus(sys, (bus) => bus.history(id)),
      (h) => h.some((e) => trialOutcomesOf(e.event).some((o) => !o.workerId.endsWith(`-${coordinatorPid}`))),
    );
    const victimId = history
      .flatMap((e) => trialOutcomesOf(e.event))
      .find((o) => !o.workerId.endsWith(`-${coordinatorPid}`))?.workerId;
    const victim = live().find((w) => victimId?.endsWith(`-${w.child.pid}`));
    if (!victim) throw new Error(`no live worker behind ${victimId}`);
    await sys.kill(victim, 'SIGKILL');
    await ensureWorkers(2);
    const final = await waitForStatus(
      sys,
      'optimization',
      id,
      (s) => TERMINAL.includes(s.status),
      'the optimization to finish',
      90_000,
    );
    expect(final).toMatchObject({
      status: 'Completed',
      attempt: 1,
      completedCombinations: total,
      failedCombinations: 0,
    });
    // No grid point ran twice: every trial id has exactly one recorded outcome in the stream.
    const outcomes = (await withBus(sys, (bus) => bus.history(id))).flatMap((e) => trialOutcomesOf(e.event));
    expect(outcomes).toHaveLength(total);
    expect(new Set(outcomes.map((o) => o.trialId)).size).toBe(total);
  });

  it('a worker frozen past its lease (SIGSTOP) wakes up superseded: it stops quietly, so the run ends once', async () => {
    await ensureWorkers(2);
    for (const body of [
      backtest(3_000_000),
      {
        strategy: 'sma-crossover',
        axes: { fast: { min: 2, max: 41, step: 1 }, slow: [50, 60, 70] },
        dataset: { synthetic: { bars: 200_000, seed: 5, timeframe: '1m' } },
      },
    ]) {
      const kind = 'axes' in body ? 'optimization' : 'backtest';
      const { body: run } = await http<{ id: string }>(sys.gateway.url, 'POST', `/api/${kind}s`, body);
      await waitForStatus(sys, kind, run.id, (s) => s.status === 'Running', `the ${kind} to start`);
      const frozen = workerByPid(workerPidOf(await withBus(sys, (bus) => bus.history(run.id))));
      process.kill(frozen.child.pid as number, 'SIGSTOP');
      try {
        // Its lease (the 5-s ack wait) runs out: the other worker takes the run as attempt 2.
        await waitForStatus(sys, kind, run.id, (s) => s.attempt === 2, `attempt 2 of the ${kind} to start`, 30_000);
      } finally {
        process.kill(frozen.child.pid as number, 'SIGCONT');
      }
      const final = await waitForStatus(
        sys,
        kind,
        run.id,
        (s) => TERMINAL.includes(s.status),
        `the ${kind} to finish`,
        60_000,
      );
      expect(final).toMatchObject({ status: 'Completed', attempt: 2 });
      // The woken worker hears that attempt 2 owns the run and drops its own, recording nothing:
      // the run has one end, attempt 2's.
      await eventually(
        'the woken worker to drop its superseded attempt',
        () => Promise.resolve(frozen.output.join('')),
        (out) => out.includes('run attempt superseded by a newer one; stopped'),
        { timeoutMs: 20_000, intervalMs: 100 },
      );
      const history = await withBus(sys, (bus) => bus.history(run.id));
      const ends = history.filter((e) => ['RunCompleted', 'RunFailed', 'RunCancelled'].includes(e.event.type));
      expect(ends.map((e) => [e.event.type, e.event.attempt])).toEqual([['RunCompleted', 2]]);
      expect(frozen.child.exitCode).toBeNull(); // alive, and free for work again
    }
  });

  it('attempts run out after the coordinator dies: every worker stops the run, and its queued batches are dropped unrun', async () => {
    await ensureWorkers(2);
    const r = await http<{ id: string }>(sys.gateway.url, 'POST', '/api/optimizations', lastChanceGrid(12));
    expect(r.status).toBe(202);
    const id = r.body.id;
    await waitForStatus(sys, 'optimization', id, (s) => (s.completedCombinations ?? 0) > 3, 'some trials to finish');
    await sys.kill(workerByPid(workerPidOf(await withBus(sys, (bus) => bus.history(id)))), 'SIGKILL');
    // The next delivery of the run is its second failed attempt: the run ends there.
    const final = await waitForStatus(
      sys,
      'optimization',
      id,
      (s) => TERMINAL.includes(s.status),
      'the run to end',
      30_000,
    );
    expect(final).toMatchObject({ status: 'Failed', failureReason: 'attempts_exhausted' });
    await expectNoBatchesLeft(id);
    const history = await withBus(sys, (bus) => bus.history(id));
    expect(endsOf(history).map((e) => [e.event.type, e.event.attempt])).toEqual([['RunFailed', 2]]);
    // After the end only what the stop found already done may still be published: the outcomes a
    // batch collects between two flushes (every 250 ms: ~6 trials of ≥ 40 ms) and the trial it was
    // finishing, on the one surviving worker. Without the stop it ran on through its batch (~150).
    expect(recordedAfterTheEnd(history)).toBeLessThanOrEqual(10);
  });

  it('a coordinator frozen while the attempts ran out, deaf to stop pushes, stops on the end in its history and records nothing', async () => {
    for (const w of live()) await sys.kill(w, 'SIGTERM');
    // The coordinator never hears a stop push (as when one is lost while it is cut off): only the
    // run's history can stop it. It is the only worker when the run is submitted, so it coordinates.
    const deaf = await sys.spawn('engine-worker', { ...SLOW_WORKER, RUNFORGE_TEST_DEAF_TO_STOP_PUSH: '1' });
    try {
      const r = await http<{ id: string }>(sys.gateway.url, 'POST', '/api/optimizations', lastChanceGrid(13));
      expect(r.status).toBe(202);
      const id = r.body.id;
      await waitForStatus(sys, 'optimization', id, (s) => (s.completedCombinations ?? 0) > 3, 'some trials to finish');
      expect(workerPidOf(await withBus(sys, (bus) => bus.history(id)))).toBe(deaf.child.pid);
      await sys.spawn('engine-worker', SLOW_WORKER);
      process.kill(deaf.child.pid as number, 'SIGSTOP');
      try {
        // Its lease runs out; the other worker's delivery of the run is its second failed attempt.
        const final = await waitForStatus(
          sys,
          'optimization',
          id,
          (s) => TERMINAL.includes(s.status),
          'the run to end',
          30_000,
        );
        expect(final).toMatchObject({ status: 'Failed', failureReason: 'attempts_exhausted' });
      } finally {
        process.kill(deaf.child.pid as number, 'SIGCONT');
      }
      await eventually(
        'the woken coordinator to drop its attempt',
        () => Promise.resolve(deaf.output.join('')),
        (out) => out.includes('run attempt superseded by a newer one; stopped'),
        { timeoutMs: 20_000, intervalMs: 100 },
      );
      await expectNoBatchesLeft(id);
      const history = await withBus(sys, (bus) => bus.history(id));
      expect(endsOf(history).map((e) => [e.event.type, e.event.attempt])).toEqual([['RunFailed', 2]]);
      // Both workers' batches stop at the end, each publishing what it had run but not recorded yet
      // (see the test above); without a stop the woken one ran on through its batch.
      expect(recordedAfterTheEnd(history)).toBeLessThanOrEqual(20);
      expect(deaf.child.exitCode).toBeNull(); // alive, its attempt over: free for other runs
    } finally {
      await sys.kill(deaf, 'SIGTERM');
    }
  });

  it('SIGTERM hands the run back at once: the other worker resumes it well before a heartbeat timeout, and it costs no retry', async () => {
    await ensureWorkers(2);
    // No retries at all: a clean shutdown's hand-back is not a failed attempt.
    const { body } = await submit(sys, backtest(3_000_000, { maxRetries: 0 }));
    await waitForStatus(
      sys,
      'backtest',
      body.id,
      (s) => s.status === 'Running' && s.processedBars > 0,
      'the run to make progress',
    );
    const victim = workerByPid(workerPidOf(await withBus(sys, (bus) => bus.history(body.id))));
    await sys.kill(victim, 'SIGTERM');
    await waitForStatus(sys, 'backtest', body.id, (s) => s.attempt === 2, 'attempt 2 to start', 20_000);
    const final = await waitForStatus(
      sys,
      'backtest',
      body.id,
      (s) => TERMINAL.includes(s.status),
      'the run to finish',
    );
    expect(final).toMatchObject({ status: 'Completed', attempt: 2 });
    const history = await withBus(sys, (bus) => bus.history(body.id));
    // Handed back ('shutdown'), not redelivered after the ack wait ('heartbeat_lost'): that is "at once".
    expect(eventsOf(history, 'RunAttemptAbandoned').map((e) => e.data.reason)).toEqual(['shutdown']);
  });

  it('a poison run that kills every worker ends Failed after maxRetries, then can be retried', async () => {
    await ensureWorkers(2);
    const poisoned = (extra: Record<string, string> = {}): Promise<ServiceProcess> =>
      sys.spawn('engine-worker', { ...SLOW_WORKER, RUNFORGE_TEST_CRASH_ON_SEED: '666', ...extra });
    // Only poison-sensitive workers from here on.
    for (const w of live()) await sys.kill(w, 'SIGTERM');
    await poisoned();
    const { body } = await submit(sys, {
      ...backtest(50_000),
      dataset: { synthetic: { bars: 50_000, seed: 666, timeframe: '1m' } },
      maxRetries: 1,
    });
    const final = await eventually(
      'the poison run to fail',
      async () => {
        if (live().length === 0) await poisoned();
        return statusOf(sys, 'backtest', body.id);
      },
      (s) => TERMINAL.includes(s.status),
      { timeoutMs: 60_000, intervalMs: 200 },
    );
    expect(final).toMatchObject({ status: 'Failed', failureReason: 'attempts_exhausted' });
    expect(final.errorMessage).toMatch(/after 2 failed attempts \(maxRetries 1\)/);
    const deadLetters = await http<{ items: { id: string }[] }>(
      sys.gateway.url,
      'GET',
      '/api/runs?status=Failed&reason=attempts_exhausted',
    );
    expect(deadLetters.body.items.map((i) => i.id)).toContain(body.id);

    for (const w of live()) await sys.kill(w, 'SIGTERM');
    await sys.spawn('engine-worker', SLOW_WORKER);
    const retry = await http<{ id: string; retryOf: string }>(sys.gateway.url, 'POST', `/api/runs/${body.id}/retry`);
    expect(retry.status).toBe(202);
    expect(retry.body.retryOf).toBe(body.id);
    const retried = await waitForStatus(
      sys,
      'backtest',
      retry.body.id,
      (s) => TERMINAL.includes(s.status),
      'the retry to finish',
    );
    expect(retried.status).toBe('Completed');
  });
});

describe('priorities', () => {
  let sys: TestSystem;

  beforeAll(async () => {
    // One run at a time: the order runs start in is the order they are taken. (With concurrent
    // short runs they are taken in the same order, but their RunStarted may land in any order.)
    sys = await TestSystem.start(['gateway', 'projection', 'engine-worker'], {
      ...SLOW_WORKER,
      RUNFORGE_SHORT_RUN_CONCURRENCY: '1',
    });
  });
  afterAll(async () => {
    await sys?.stop();
  });

  it('a free worker takes waiting high-priority runs before normal ones', async () => {
    const blocker = await submit(sys, backtest(2_000_000));
    await waitForStatus(sys, 'backtest', blocker.body.id, (s) => s.status === 'Running', 'the blocking run to start');
    const normal: string[] = [];
    for (let i = 0; i < 3; i++) normal.push((await submit(sys, backtest(5_000 + i))).body.id);
    const high: string[] = [];
    for (let i = 0; i < 2; i++) high.push((await submit(sys, backtest(6_000 + i, { priority: 'high' }))).body.id);
    const started = await Promise.all(
      [...high, ...normal].map(async (id) => {
        const s = await waitForStatus(sys, 'backtest', id, (x) => x.status === 'Completed', `run ${id} to complete`);
        return { id, startedAt: Date.parse(s.startedAt as string) };
      }),
    );
    const order = [...started]
      .sort((a, b) => a.startedAt - b.startedAt)
      .map((s) => (high.includes(s.id) ? 'high' : 'normal'));
    expect(order).toEqual(['high', 'high', 'normal', 'normal', 'normal']);
  });
});

describe('worker concurrency', () => {
  let sys: TestSystem;

  beforeAll(async () => {
    sys = await TestSystem.start(['gateway', 'projection', 'engine-worker'], SLOW_WORKER);
  });
  afterAll(async () => {
    await sys?.stop();
  });

  /** Each run's first RunStarted and its end, as stream sequences. */
  const spans = (ids: string[]) =>
    withBus(sys, (bus) =>
      Promise.all(
        ids.map(async (id) => {
          const h = await bus.history(id);
          const started = h.find((e) => e.event.type === 'RunStarted');
          const ended = h.find((e) => isRunEnd(e.event));
          if (!started || !ended) throw new Error(`run ${id} lacks RunStarted or its end`);
          return { id, started: started.seq, ended: ended.seq, end: ended.event.type };
        }),
      ),
    );

  it('one worker runs short runs side by side, and a long run alone', async () => {
    // Short: 200,000 bars (≤ RUNFORGE_SHORT_RUN_MAX_BARS), 4 chunks of 40 ms each under SLOW_WORKER.
    const short = (seed: number) => ({
      ...backtest(200_000),
      dataset: { synthetic: { bars: 200_000, seed, timeframe: '1m' } },
    });
    const shortIds: string[] = [];
    for (let i = 0; i < 4; i++) shortIds.push((await submit(sys, short(8_100 + i))).body.id);
    for (const id of shortIds)
      await waitForStatus(sys, 'backtest', id, (s) => TERMINAL.includes(s.status), `short run ${id} to end`);
    const shorts = await spans(shortIds);
    expect(shorts.map((s) => s.end)).toEqual(shortIds.map(() => 'RunCompleted'));
    // Side by side: some run started before another one ended (one at a time, each would end first).
    const overlapping = shorts.some((a) => shorts.some((b) => a !== b && a.started < b.ended && b.started < a.ended));
    expect(overlapping).toBe(true);

    // A long run (2,000,000 bars) taken first runs alone: short runs submitted meanwhile start after its end.
    const long = await submit(sys, backtest(2_000_000));
    await waitForStatus(sys, 'backtest', long.body.id, (s) => s.status === 'Running', 'the long run to start');
    const after: string[] = [];
    for (let i = 0; i < 3; i++) after.push((await submit(sys, short(8_200 + i))).body.id);
    for (const id of [long.body.id, ...after])
      await waitForStatus(sys, 'backtest', id, (s) => TERMINAL.includes(s.status), `run ${id} to end`);
    const [longSpan, ...afterSpans] = await spans([long.body.id, ...after]);
    expect(longSpan?.end).toBe('RunCompleted');
    for (const s of afterSpans) expect(s.started).toBeGreaterThan(longSpan?.ended ?? Number.POSITIVE_INFINITY);
  });
});

describe('the progress clock', () => {
  let sys: TestSystem;

  beforeAll(async () => {
    sys = await TestSystem.start(['gateway', 'projection', 'engine-worker'], {
      ...SLOW_WORKER,
      RUNFORGE_TEST_STALL_ON_SEED: '777',
    });
  });
  afterAll(async () => {
    await sys?.stop();
  });

  it('abandons an attempt that heart-beats without progress for stallSeconds, retries it, then fails it', async () => {
    const { body } = await submit(sys, {
      ...backtest(50_000),
      dataset: { synthetic: { bars: 50_000, seed: 777, timeframe: '1m' } },
      stallSeconds: 1,
      maxRetries: 1,
    });
    const final = await waitForStatus(
      sys,
      'backtest',
      body.id,
      (s) => TERMINAL.includes(s.status),
      'the stalled run to end',
      30_000,
    );
    expect(final).toMatchObject({ status: 'Failed', failureReason: 'attempts_exhausted' });
    expect(final.errorMessage).toMatch(/stopped making progress/);
    const history = await withBus(sys, (bus) => bus.history(body.id));
    expect(eventsOf(history, 'RunAttemptAbandoned').map((e) => [e.data.abandonedAttempt, e.data.reason])).toEqual([
      [1, 'stalled'],
      [2, 'stalled'],
    ]);
  });
});

describe('a cancellation whose push is lost', () => {
  let sys: TestSystem;

  beforeAll(async () => {
    // This worker never hears the core-NATS push of a cancellation (as when a reconnect loses it).
    sys = await TestSystem.start(['gateway', 'projection', 'engine-worker'], {
      ...SLOW_WORKER,
      RUNFORGE_TEST_DEAF_TO_CANCEL_PUSH: '1',
    });
  });
  afterAll(async () => {
    await sys?.stop();
  });

  it('still stops the optimization: its coordinator reads the stored request in the run history', async () => {
    const r = await http<{ id: string; totalCombinations: number }>(sys.gateway.url, 'POST', '/api/optimizations', {
      strategy: 'sma-crossover',
      axes: { fast: { min: 2, max: 40, step: 1 }, slow: [50, 100, 200] },
      dataset: { synthetic: { bars: 200_000, seed: 6, timeframe: '1h' } },
    });
    const id = r.body.id;
    await waitForStatus(
      sys,
      'optimization',
      id,
      (s) => s.status === 'Running' && (s.completedCombinations ?? 0) > 3,
      'some trials to finish',
    );
    const cancelled = await http<{ status: string }>(sys.gateway.url, 'POST', `/api/optimizations/${id}/cancel`);
    // Confirmed by the worker within the gateway's 3 s wait (before, the coordinator waited on).
    expect(cancelled).toMatchObject({ status: 200, body: { status: 'Cancelled' } });
    const final = await waitForStatus(
      sys,
      'optimization',
      id,
      (s) => TERMINAL.includes(s.status),
      'the optimization to end',
      10_000,
    );
    expect(final.status).toBe('Cancelled');
    expect((final.completedCombinations ?? 0) + (final.failedCombinations ?? 0)).toBeLessThan(r.body.totalCombinations);
  });
});
