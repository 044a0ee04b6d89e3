import {
  BacktestRequestSchema,
  clipText,
  ERROR_LIMITS,
  errorFieldsOf,
  OptimizationRequestSchema,
  trialOutcomesOf,
  createEvent,
  decodeEvent,
  eventTypeForToken,
  evolveRun,
  parseRunSubject,
  RUN_ENDING_EVENT_TYPES,
  TERMINAL_STATUSES,
  toFieldIssues,
  topology,
  type RunEvent,
  type RunEventType,
  type RunView,
} from './index';

const meta = (attempt = 0, at = '2026-01-01T00:00:00.000Z') => ({ runId: 'r1', attempt, occurredAt: at });
const request = BacktestRequestSchema.parse({
  strategy: 'sma-crossover',
  params: { fast: 5, slow: 20 },
  dataset: { synthetic: { bars: 1000, seed: 1, timeframe: '1h' } },
});

describe('topology', () => {
  it('given the default namespace, names match the documented layout', () => {
    const t = topology();
    expect(t.streams.runs).toEqual({ name: 'RUNS', subjects: ['runs.>'] });
    expect(t.runSubject('abc', 'bar_progressed')).toBe('runs.abc.bar_progressed');
    expect(t.consumers.engineHigh).toEqual({ stream: 'WORK', durable: 'engine-high', filterSubject: 'work.runs.high' });
    expect(t.runDispatchSubject('normal')).toBe('work.runs.normal');
    expect(parseRunSubject(t, 'runs.abc.completed')).toEqual({ runId: 'abc', eventToken: 'completed' });
    expect(t.runWindowBucket).toBe('runwindows');
  });

  it('given a test namespace, every name is isolated', () => {
    const t = topology('t1a2b');
    expect(t.streams.runs.name).toBe('RUNS_t1a2b');
    expect(t.runSubject('abc', 'requested')).toBe('t1a2b.runs.abc.requested');
    expect(t.trialWorkSubject('abc')).toBe('t1a2b.work.trials.abc');
    expect(parseRunSubject(t, 't1a2b.runs.abc.failed')).toEqual({ runId: 'abc', eventToken: 'failed' });
    expect(parseRunSubject(t, 'runs.abc.failed')).toBeUndefined();
    expect(t.runWindowBucket).toBe('runwindows_t1a2b');
  });

  it('rejects a namespace that is not a plain token', () => {
    expect(() => topology('a.b')).toThrow(/namespace/);
  });
});

describe('event contracts', () => {
  it('round-trips an event through JSON with validation on both sides', () => {
    const e = createEvent('BarProgressed', meta(1), { processedBars: 10, totalBars: 100 });
    expect(decodeEvent(JSON.parse(JSON.stringify(e)))).toEqual(e);
    expect(eventTypeForToken('bar_progressed')).toBe('BarProgressed');
  });

  it('rejects an invalid payload at publish time, naming the field', () => {
    expect(() => createEvent('BarProgressed', meta(), { processedBars: -1, totalBars: 1 })).toThrow(/processedBars/);
  });

  it('rejects an unknown type and a version newer than this build', () => {
    const e = createEvent('RunStarted', meta(1), { workerId: 'w', totalBars: 1 });
    expect(() => decodeEvent({ ...e, type: 'RunExploded' })).toThrow(/unknown event type/);
    expect(() => decodeEvent({ ...e, version: 99 })).toThrow(/newer/);
  });
});

describe('request validation', () => {
  it('fills defaults', () => {
    expect(request).toMatchObject({ initialCapital: 10_000, commissionBps: 1, maxRetries: 3, priority: 'normal' });
  });

  it('names each bad field', () => {
    const r = BacktestRequestSchema.safeParse({
      strategy: '',
      dataset: { synthetic: { bars: 1, seed: 1, timeframe: '1h' } },
      extra: 1,
    });
    expect(r.success).toBe(false);
    if (r.success) return;
    const fields = toFieldIssues(r.error).map((i) => i.field);
    expect(fields).toEqual(expect.arrayContaining(['strategy', 'dataset.synthetic.bars', 'extra']));
  });

  it('requires exactly one dataset source', () => {
    const r = BacktestRequestSchema.safeParse({ strategy: 's', dataset: {} });
    expect(r.success).toBe(false);
    if (!r.success)
      expect(toFieldIssues(r.error)[0]).toEqual({
        field: 'dataset',
        reason: 'give exactly one of "synthetic" or "id"',
      });
  });
});

describe('evolveRun (the fold behind every read model)', () => {
  const fold = (events: RunEvent[]): RunView | undefined =>
    events.reduce<RunView | undefined>((v, e, i) => evolveRun(v, e, { seq: i + 1 }), undefined);
  const requested = createEvent('RunRequested', meta(), {
    kind: 'backtest',
    request,
    totalBars: 1000,
    triggeredBy: 'api',
  });

  it('given a full history, ends Completed with the result', () => {
    const v = fold([
      requested,
      createEvent('RunStarted', meta(1), { workerId: 'w1', totalBars: 1000 }),
      createEvent('BarProgressed', meta(1), { processedBars: 500, totalBars: 1000 }),
      createEvent('RunCompleted', meta(1), {
        durationMs: 5,
        processedBars: 1000,
        result: { metrics: { sharpe: 1 }, equityCurve: [], bars: 1000 },
      }),
    ]);
    expect(v).toMatchObject({
      status: 'Completed',
      processedBars: 1000,
      attempt: 1,
      result: { metrics: { sharpe: 1 } },
    });
  });

  it('fences stale attempts: events of attempt 1 after attempt 2 started change nothing', () => {
    const v = fold([
      requested,
      createEvent('RunStarted', meta(1), { workerId: 'w1', totalBars: 1000 }),
      createEvent('RunStarted', meta(2), { workerId: 'w2', totalBars: 1000 }),
      createEvent('BarProgressed', meta(2), { processedBars: 100, totalBars: 1000 }),
      createEvent('BarProgressed', meta(1), { processedBars: 900, totalBars: 1000 }),
      createEvent('RunFailed', meta(1), { errorMessage: 'zombie', reason: 'error' }),
    ]);
    expect(v).toMatchObject({ status: 'Running', attempt: 2, processedBars: 100, workerId: 'w2', errorMessage: null });
  });

  it('keeps terminal states sticky and cancels a Pending run without it starting', () => {
    const v = fold([
      requested,
      createEvent('RunCancellationRequested', meta(), { requestedBy: 'api' }),
      createEvent('RunStarted', meta(1), { workerId: 'late', totalBars: 1000 }),
    ]);
    expect(v).toMatchObject({ status: 'Cancelled', startedAt: null });
  });

  it('ignores a redelivered event it already applied', () => {
    const started = createEvent('RunStarted', meta(1), { workerId: 'w1', totalBars: 1000 });
    const progressed = createEvent('BarProgressed', meta(1), { processedBars: 10, totalBars: 1000 });
    let v = evolveRun(undefined, requested, { seq: 1 });
    v = evolveRun(v, started, { seq: 2 });
    v = evolveRun(v, progressed, { seq: 3 });
    const again = evolveRun(v, createEvent('BarProgressed', meta(1), { processedBars: 5, totalBars: 1000 }), {
      seq: 3,
    });
    expect(again?.processedBars).toBe(10);
  });

  it('ends a run only on an event of RUN_ENDING_EVENT_TYPES (what lets the projection skip its end check)', () => {
    const trial = { trialId: 't1', index: 0, params: { fast: 5 }, durationMs: 1, workerId: 'w1' };
    // Every event type, so a new one cannot be forgotten here (the Record names them all).
    const samples: Record<RunEventType, RunEvent> = {
      RunRequested: requested,
      RunStarted: createEvent('RunStarted', meta(1), { workerId: 'w1', totalBars: 1000 }),
      BarProgressed: createEvent('BarProgressed', meta(1), { processedBars: 10, totalBars: 1000 }),
      RunProgressed: createEvent('RunProgressed', meta(1), { percent: 50 }),
      TrialCompleted: createEvent('TrialCompleted', meta(1), { ...trial, metrics: { sharpe: 1 }, score: 1 }),
      TrialFailed: createEvent('TrialFailed', meta(1), { ...trial, errorMessage: 'boom', fingerprint: 'f1' }),
      TrialsRecorded: createEvent('TrialsRecorded', meta(1), {
        outcomes: [{ ...trial, status: 'Completed', metrics: { sharpe: 1 }, score: 1 }],
      }),
      RunCompleted: createEvent('RunCompleted', meta(1), {
        durationMs: 5,
        result: { metrics: { sharpe: 1 }, equityCurve: [], bars: 1000 },
      }),
      RunFailed: createEvent('RunFailed', meta(1), { errorMessage: 'boom', reason: 'error' }),
      RunCancellationRequested: createEvent('RunCancellationRequested', meta(), { requestedBy: 'api' }),
      RunCancelled: createEvent('RunCancelled', meta(1), {}),
      RunAttemptAbandoned: createEvent('RunAttemptAbandoned', meta(1), { abandonedAttempt: 1, reason: 'stalled' }),
      RunLogged: createEvent('RunLogged', meta(1), { level: 'INFO', message: 'hello' }),
    };
    const pending = fold([requested]) as RunView;
    const running = evolveRun(pending, samples.RunStarted, { seq: 2 }) as RunView;
    const ending = new Set<string>();
    for (const [type, event] of Object.entries(samples)) {
      for (const before of [pending, running]) {
        const after = evolveRun(before, event, { seq: 10 });
        if (after && TERMINAL_STATUSES.has(after.status)) ending.add(type);
      }
    }
    expect([...ending].sort()).toEqual([...RUN_ENDING_EVENT_TYPES].sort());
  });
});

describe('trial outcomes', () => {
  const optimization = createEvent('RunRequested', meta(), {
    kind: 'optimization',
    request: OptimizationRequestSchema.parse({
      strategy: 'sma-crossover',
      axes: { fast: [5, 10, 40], slow: [20] },
      dataset: { synthetic: { bars: 1000, seed: 1, timeframe: '1h' } },
    }),
    totalBars: 1000,
    totalCombinations: 3,
    triggeredBy: 'api',
  });
  const done = (trialId: string, index: number) => ({
    status: 'Completed' as const,
    trialId,
    index,
    params: { fast: 5, slow: 20 },
    metrics: { sharpe: 1 },
    score: 1,
    durationMs: 1,
    workerId: 'w',
  });
  const failed = (trialId: string, index: number) => ({
    status: 'Failed' as const,
    trialId,
    index,
    params: { fast: 40, slow: 20 },
    errorMessage: 'fast (40) must be less than slow (20)',
    fingerprint: 'f',
    durationMs: 1,
    workerId: 'w',
  });

  it('given a batch of outcomes and a redelivered one, counts each trial once when told what is new', () => {
    const seen = new Set<string>();
    const firstSighting = (id: string): boolean => (seen.has(id) ? false : (seen.add(id), true));
    let v = evolveRun(undefined, optimization, { seq: 1 });
    v = evolveRun(v, createEvent('TrialsRecorded', meta(1), { outcomes: [done('t0', 0), failed('t2', 2)] }), {
      seq: 2,
      firstSighting,
    });
    v = evolveRun(v, createEvent('TrialsRecorded', meta(1), { outcomes: [done('t0', 0), done('t1', 1)] }), {
      seq: 3,
      firstSighting,
    });
    expect(v).toMatchObject({ completedCombinations: 2, failedCombinations: 1 });
  });

  it('given outcomes that arrive after the run ended, leaves its counts as they were at the end', () => {
    let v = evolveRun(undefined, optimization, { seq: 1 });
    v = evolveRun(v, createEvent('RunStarted', meta(1), { workerId: 'w', totalBars: 1000 }), { seq: 2 });
    v = evolveRun(v, createEvent('TrialsRecorded', meta(1), { outcomes: [done('t0', 0), failed('t2', 2)] }), {
      seq: 3,
    });
    v = evolveRun(v, createEvent('RunCancelled', meta(1), { reason: 'user' }), { seq: 4 });
    v = evolveRun(v, createEvent('TrialsRecorded', meta(1), { outcomes: [done('t1', 1)] }), { seq: 5 });
    const { status: _s, ...late } = failed('t3', 3);
    v = evolveRun(v, createEvent('TrialFailed', meta(1), late), { seq: 6 });
    expect(v).toMatchObject({ status: 'Cancelled', completedCombinations: 1, failedCombinations: 1, lastSeq: 6 });
  });

  it('given outcomes over time, records when the run last progressed and its longest wait, the start included', () => {
    const t = (s: number) => new Date(Date.UTC(2026, 0, 1) + s * 1000).toISOString();
    let v = evolveRun(undefined, optimization, { seq: 1 });
    v = evolveRun(v, createEvent('RunStarted', meta(1, t(0)), { workerId: 'w', totalBars: 1000 }), { seq: 2 });
    expect(v).toMatchObject({ lastProgressAt: null, longestProgressGapMs: 0 });
    v = evolveRun(v, createEvent('TrialsRecorded', meta(1, t(4)), { outcomes: [done('t0', 0)] }), { seq: 3 });
    v = evolveRun(v, createEvent('TrialsRecorded', meta(1, t(5)), { outcomes: [failed('t2', 2)] }), { seq: 4 });
    expect(v).toMatchObject({ lastProgressAt: t(5), longestProgressGapMs: 4_000 });
    // A redelivered batch counts nothing, so it is no progress; nor is a log line.
    const seen = new Set(['t0', 't2']);
    v = evolveRun(v, createEvent('TrialsRecorded', meta(1, t(20)), { outcomes: [done('t0', 0)] }), {
      seq: 5,
      firstSighting: (id) => !seen.has(id),
    });
    v = evolveRun(v, createEvent('RunLogged', meta(1, t(21)), { level: 'INFO', message: 'still here' }), { seq: 6 });
    expect(v).toMatchObject({ lastProgressAt: t(5), longestProgressGapMs: 4_000 });
    // A worker whose clock reads behind moves nothing back.
    v = evolveRun(v, createEvent('TrialsRecorded', meta(1, t(3)), { outcomes: [done('t1', 1)] }), { seq: 7 });
    expect(v).toMatchObject({ completedCombinations: 2, lastProgressAt: t(5), longestProgressGapMs: 4_000 });
  });

  it('reads single-trial events and batches alike', () => {
    const { status: _status, ...fields } = failed('t2', 2);
    const single = createEvent('TrialFailed', meta(1), fields);
    expect(trialOutcomesOf(single)).toEqual([expect.objectContaining({ status: 'Failed', trialId: 't2' })]);
    const batch = createEvent('TrialsRecorded', meta(1), { outcomes: [done('t0', 0)] });
    expect(trialOutcomesOf(batch).map((o) => o.trialId)).toEqual(['t0']);
    expect(trialOutcomesOf(optimization)).toEqual([]);
  });
});

describe('error fields within the contract', () => {
  it('given short text, clipText returns it unchanged; given long text, at most max characters saying how much was cut', () => {
    expect(clipText('boom', 10)).toBe('boom');
    const clipped = clipText('x'.repeat(1_000_000), 10_000);
    expect(clipped.length).toBeLessThanOrEqual(10_000);
    expect(clipped).toMatch(/^x{9000,} … \[\d+ of 1000000 characters cut\]$/);
  });

  it('given an error with a megabyte message and stack, errorFieldsOf makes a trial outcome the contract accepts', () => {
    const err = Object.assign(new Error('m'.repeat(1_000_000)), { code: 'C'.repeat(500) });
    err.stack = `Error: ${err.message}\n${'    at somewhere (file.js:1:1)\n'.repeat(50_000)}`;
    const fields = errorFieldsOf(err);
    expect(fields.errorMessage.length).toBeLessThanOrEqual(ERROR_LIMITS.message);
    expect(fields.errorStackTrace?.length).toBeLessThanOrEqual(ERROR_LIMITS.stack);
    expect(fields.errorCode?.length).toBeLessThanOrEqual(ERROR_LIMITS.code);
    const outcome = {
      trialId: 't',
      index: 0,
      params: { fast: 1 },
      status: 'Failed' as const,
      fingerprint: 'f',
      durationMs: 1,
      workerId: 'w',
      ...fields,
    };
    expect(() => createEvent('TrialsRecorded', meta(1), { outcomes: [outcome] })).not.toThrow();
    // Unclipped, the same error is refused by the contract: the clipping is what keeps it recordable.
    expect(() =>
      createEvent('TrialsRecorded', meta(1), { outcomes: [{ ...outcome, errorMessage: err.message }] }),
    ).toThrow(/errorMessage/);
  });

  it('given a megabyte message, keeps the stack frames: the message is clipped inside the stack too', () => {
    const err = new Error('m'.repeat(1_000_000));
    const fields = errorFieldsOf(err);
    expect(fields.errorStackTrace).toMatch(/^Error: m+ … \[\d+ of 1000000 characters cut\]\n\s+at /);
    expect(fields.errorStackTrace?.length).toBeLessThan(ERROR_LIMITS.message + 5_000);
  });

  it('given something thrown that is not an Error, errorFieldsOf keeps its text as the message', () => {
    expect(errorFieldsOf('plain failure')).toEqual({ errorMessage: 'plain failure' });
  });
});

describe('optimization requests', () => {
  const base = { strategy: 'sma-crossover', dataset: { synthetic: { bars: 1000, seed: 1, timeframe: '1h' } } };
  const issues = (patch: Record<string, unknown>) => {
    const r = OptimizationRequestSchema.safeParse({ ...base, axes: { fast: [5] }, ...patch });
    return r.success ? [] : toFieldIssues(r.error);
  };

  it.each([['10'], [null], [{ min: 5, max: 10 }], [[1, {}]]])('given the axis %j, says what an axis is', (fast) => {
    expect(issues({ axes: { fast } })).toEqual([
      {
        field: 'axes.fast',
        reason:
          'expected a range {min, max, step} (three numbers, step > 0) or a non-empty list of numbers, booleans or strings',
      },
    ]);
  });

  it('given a range that is nearly right, names the part that is wrong', () => {
    expect(issues({ axes: { fast: { min: 10, max: 5, step: 1 } } })).toEqual([
      { field: 'axes.fast', reason: 'max must be >= min' },
    ]);
    expect(issues({ axes: { fast: { min: 1, max: 5, step: 0 } } })).toEqual([
      { field: 'axes.fast.step', reason: expect.stringMatching(/>0/) },
    ]);
  });

  it('given maxFailedTrials 1.5 (refused at submission since), still decodes it: stored requests must stay readable', () => {
    expect(issues({ maxFailedTrials: 1.5 })).toEqual([]);
    expect(issues({ maxFailedTrials: 0 })).toEqual([{ field: 'maxFailedTrials', reason: expect.stringMatching(/>0/) }]);
  });

  it('given an objective without a direction, minimizes a metric where lower is better and maximizes the rest', () => {
    const objective = (o: Record<string, unknown> | undefined) =>
      OptimizationRequestSchema.parse({ ...base, axes: { fast: [5] }, ...(o ? { objective: o } : {}) }).objective;
    expect(objective(undefined)).toEqual({ metric: 'sharpe', direction: 'maximize' });
    expect(objective({ metric: 'maxDrawdown' })).toEqual({ metric: 'maxDrawdown', direction: 'minimize' });
    expect(objective({ metric: 'maxDrawdown', direction: 'maximize' })).toEqual({
      metric: 'maxDrawdown',
      direction: 'maximize',
    });
    expect(objective({ metric: 'totalReturn' })).toEqual({ metric: 'totalReturn', direction: 'maximize' });
  });
});
