import { connect } from '@nats-io/transport-node';
import { jetstreamManager } from '@nats-io/jetstream';
import { Client } from 'pg';
import { eventually } from '../support/eventually';
import { authHeaders, DATABASE_URL, http, NATS_URL, TestSystem } from '../support/system';

interface OptStatus {
  id: string;
  status: string;
  totalCombinations: number;
  completedCombinations: number;
  failedCombinations: number;
  failureReason?: string;
  errorMessage?: string;
  bestTrial?: { params: Record<string, number>; score: number };
  etaSeconds?: number;
  trialsPerSecond?: number;
  result?: {
    best: { params: Record<string, number>; score: number } | null;
    top: { params: Record<string, number>; score: number }[];
    failures: { message: string; count: number; fingerprint: string }[];
  };
}

interface TrialsPage {
  items: { trialId: string; index: number; status: string; params: Record<string, number>; errorMessage?: string; errorStackTrace?: string; score?: number }[];
  nextCursor: string | null;
}

const dataset = { synthetic: { bars: 200_000, seed: 7, timeframe: '1h' } };
// fast 2..40 × slow {20, 30, 50, 80, 120} = 195 combinations; fast >= slow fails for 21 + 11 = 32 of them.
const axes = { fast: { min: 2, max: 40, step: 1 }, slow: [20, 30, 50, 80, 120] };

/** The first `event: snapshot` of a run's live stream (the stream is closed after it). */
async function firstSnapshot<T>(base: string, apiKey: string, id: string): Promise<T> {
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), 10_000);
  try {
    const res = await fetch(`${base}/api/runs/${id}/stream`, { signal: controller.signal, headers: authHeaders(apiKey) });
    expect(res.status).toBe(200);
    const reader = (res.body as ReadableStream<Uint8Array>).getReader();
    const decoder = new TextDecoder();
    let text = '';
    for (;;) {
      const { value, done } = await reader.read();
      if (done) throw new Error(`the stream of ${id} ended without a snapshot: ${text}`);
      text += decoder.decode(value, { stream: true });
      const m = /event: snapshot\nid: \d+\ndata: (.*)\n\n/.exec(text);
      if (m) return JSON.parse(m[1] as string) as T;
    }
  } finally {
    clearTimeout(timer);
    controller.abort();
  }
}

describe('optimizations fan out across workers, isolate failing trials and rank the rest', () => {
  let sys: TestSystem;

  beforeAll(async () => {
    sys = await TestSystem.start(['gateway', 'engine-worker', 'engine-worker', 'projection']);
  });

  afterAll(async () => {
    await sys?.stop();
  });

  const finished = (id: string): Promise<OptStatus> =>
    eventually(
      `optimization ${id} to finish`,
      async () => (await http<OptStatus>(sys.gateway.url, 'GET', `/api/optimizations/${id}/status`)).body,
      (s) => ['Completed', 'Failed', 'Cancelled'].includes(s.status),
      { timeoutMs: 90_000, intervalMs: 100 },
    );

  it('a grid with a failing region ends Completed with the exact counts, stacks recorded, both workers used', async () => {
    const submitted = await http<{ id: string; status: string; totalCombinations: number }>(sys.gateway.url, 'POST', '/api/optimizations', {
      strategy: 'sma-crossover',
      axes,
      dataset,
    });
    expect(submitted.status).toBe(202);
    expect(submitted.body).toMatchObject({ status: 'Pending', totalCombinations: 195 });
    const id = submitted.body.id;

    const final = await finished(id);
    expect(final).toMatchObject({ status: 'Completed', totalCombinations: 195, completedCombinations: 163, failedCombinations: 32 });
    expect(final.result?.failures).toEqual([expect.objectContaining({ count: 32, message: expect.stringMatching(/must be less than slow/) })]);
    expect(final.result?.best).not.toBeNull();
    const top = final.result?.top ?? [];
    expect(top.length).toBe(10);
    for (let i = 1; i < top.length; i++) expect((top[i - 1] as { score: number }).score).toBeGreaterThanOrEqual((top[i] as { score: number }).score);
    for (const t of top) expect(t.params.fast).toBeLessThan(t.params.slow as number);

    const failed = await http<TrialsPage>(sys.gateway.url, 'GET', `/api/runs/${id}/trials?status=Failed&limit=100`);
    expect(failed.status).toBe(200);
    expect(failed.body.items).toHaveLength(32);
    for (const t of failed.body.items) {
      expect(t.params.fast).toBeGreaterThanOrEqual(t.params.slow as number);
      expect(t.errorMessage).toMatch(/fast \(\d+\) must be less than slow \(\d+\)/);
      expect(t.errorStackTrace).toMatch(/\n\s+at /);
    }

    // Every trial is recorded once, and both worker processes took a share of the grid.
    const pg = new Client({ connectionString: DATABASE_URL });
    await pg.connect();
    try {
      // One row per grid point: 195 distinct indexes and 195 distinct parameter sets.
      const r = await pg.query<{ trials: string; grid_points: string; param_sets: string; workers: string }>(
        `SELECT count(*) AS trials, count(DISTINCT index) AS grid_points, count(DISTINCT params::text) AS param_sets,
                count(DISTINCT worker_id) AS workers
           FROM "${sys.iso.schema}".trials WHERE run_id = $1`,
        [id],
      );
      expect(r.rows[0]).toEqual({ trials: '195', grid_points: '195', param_sets: '195', workers: '2' });
    } finally {
      await pg.end();
    }

    // Pages by score, best first, with a cursor that walks the whole set without overlap.
    const seen = new Set<string>();
    let cursor: string | null = null;
    let previous = Infinity;
    do {
      const page: TrialsPage = (
        await http<TrialsPage>(sys.gateway.url, 'GET', `/api/runs/${id}/trials?status=Completed&sort=-score&limit=50${cursor ? `&cursor=${cursor}` : ''}`)
      ).body;
      for (const t of page.items) {
        expect(seen.has(t.trialId)).toBe(false);
        seen.add(t.trialId);
        expect(t.score as number).toBeLessThanOrEqual(previous);
        previous = t.score as number;
      }
      cursor = page.nextCursor;
    } while (cursor);
    expect(seen.size).toBe(163);

    // A cursor continues only the listing it came from.
    const first = await http<TrialsPage>(sys.gateway.url, 'GET', `/api/runs/${id}/trials?status=Completed&sort=-score&limit=5`);
    const mixed = await http<{ issues: { field: string; reason: string }[] }>(
      sys.gateway.url,
      'GET',
      `/api/runs/${id}/trials?sort=index&cursor=${first.body.nextCursor}`,
    );
    expect(mixed.status).toBe(400);
    expect(mixed.body.issues).toEqual([{ field: 'cursor', reason: expect.stringMatching(/^belongs to sort=-score with status=Completed;/) }]);
  });

  it('a grid failing by the thousand is recorded in full (outcomes stay below the broker limit) and logs each kind of failure once per batch', async () => {
    // fast 1..1000 × slow {20, 40, …, 200} = 10,000 trials in batches of 1,000; fast < slow holds for
    // 19 + 39 + … + 199 = 1,090 of them, so most batches fail every trial. 1,000 failed outcomes with
    // their stacks are more than NATS' 1 MiB message limit: sent as one event, they were refused and
    // the run hung until its timeout.
    const slow = Array.from({ length: 10 }, (_, i) => 20 * (i + 1));
    const submitted = await http<{ id: string; totalCombinations: number }>(sys.gateway.url, 'POST', '/api/optimizations', {
      strategy: 'sma-crossover',
      axes: { fast: { min: 1, max: 1000, step: 1 }, slow },
      dataset: { synthetic: { bars: 3_000, seed: 11, timeframe: '1h' } },
    });
    expect(submitted.status).toBe(202);
    expect(submitted.body.totalCombinations).toBe(10_000);
    const id = submitted.body.id;
    const final = await finished(id);
    expect(final).toMatchObject({ status: 'Completed', completedCombinations: 1_090, failedCombinations: 8_910 });
    expect(final.result?.failures).toEqual([expect.objectContaining({ count: 8_910, message: expect.stringMatching(/must be less than slow/) })]);

    interface Logs { items: { level: string; message: string; context?: { failedInBatch?: number } }[]; nextCursor: string | null }
    const logs = await http<Logs>(sys.gateway.url, 'GET', `/api/runs/${id}/logs?limit=500`);
    expect(logs.status).toBe(200);
    expect(logs.body.nextCursor).toBeNull();
    const messages = logs.body.items.map((l) => l.message);
    // Every line of the run is kept, the coordinator's last one included (each batch's lines have
    // message ids of their own; they used to collide with the coordinator's and be dropped).
    expect(messages).toContainEqual(expect.stringMatching(/^optimization started/));
    expect(messages).toContainEqual(expect.stringMatching(/^scheduled 10000 of 10000 trials/));
    expect(messages).toContainEqual('optimization completed: 1090 of 10000 trials succeeded, 8910 failed');
    const warnings = logs.body.items.filter((l) => l.level === 'WARNING');
    const firsts = warnings.filter((l) => /^trial \d+ failed: fast \(\d+\) must be less than slow/.test(l.message));
    const summaries = warnings.filter((l) => /^\d+ more trials? of batch \d+ failed like trial \d+/.test(l.message));
    expect(firsts.length + summaries.length).toBe(warnings.length);
    // One first line per batch with a failure, and the summaries account for every other failure.
    expect(firsts.length).toBeGreaterThanOrEqual(8);
    expect(firsts.length).toBeLessThanOrEqual(10);
    expect(firsts.length + summaries.reduce((n, l) => n + (l.context?.failedInBatch ?? 0) - 1, 0)).toBe(8_910);
  });

  it('constraints filter the grid: the total counts only combinations that satisfy them, and none fail', async () => {
    const submitted = await http<{ id: string; totalCombinations: number }>(sys.gateway.url, 'POST', '/api/optimizations', {
      strategy: 'sma-crossover',
      axes,
      constraints: ['fast < slow'],
      objective: { metric: 'totalReturn', direction: 'maximize' },
      dataset: { synthetic: { bars: 20_000, seed: 3, timeframe: '1h' } },
    });
    expect(submitted.status).toBe(202);
    expect(submitted.body.totalCombinations).toBe(163);
    const final = await finished(submitted.body.id);
    expect(final).toMatchObject({ status: 'Completed', completedCombinations: 163, failedCombinations: 0 });
    expect(final.result?.failures).toEqual([]);
  });

  it('a trial whose warm-up is longer than the dataset fails alone, naming the parameter and the bars it needs', async () => {
    // slow 299 needs exactly the 300 bars there are; slow 300 and 400 need more: 2 × 2 failed trials.
    const submitted = await http<{ id: string }>(sys.gateway.url, 'POST', '/api/optimizations', {
      strategy: 'sma-crossover',
      axes: { fast: [5, 10], slow: [50, 299, 300, 400] },
      dataset: { synthetic: { bars: 300, seed: 3, timeframe: '1h' } },
    });
    expect(submitted.status).toBe(202);
    const final = await finished(submitted.body.id);
    expect(final).toMatchObject({ status: 'Completed', completedCombinations: 4, failedCombinations: 4 });
    expect(final.result?.failures).toEqual([
      expect.objectContaining({ count: 4, message: expect.stringMatching(/^slow \((300|400)\) needs at least (301|401) bars .*; the dataset has 300$/) }),
    ]);
    const failed = await http<TrialsPage>(sys.gateway.url, 'GET', `/api/runs/${submitted.body.id}/trials?status=Failed`);
    expect(failed.body.items.map((t) => t.params.slow).sort()).toEqual([300, 300, 400, 400]);
  });

  it('maxFailedTrials stops the run early as Failed with that reason', async () => {
    const submitted = await http<{ id: string }>(sys.gateway.url, 'POST', '/api/optimizations', {
      strategy: 'sma-crossover',
      axes: { fast: { min: 20, max: 200, step: 1 }, slow: [10, 400] },
      maxFailedTrials: 5,
      // Long enough (~1 s of engine work) for the stop to matter: over 20k bars the whole grid ran
      // in ~30 ms, before any coordinator could hear a failure.
      dataset: { synthetic: { bars: 500_000, seed: 3, timeframe: '1h' } },
    });
    expect(submitted.status).toBe(202);
    const final = await finished(submitted.body.id);
    expect(final.status).toBe('Failed');
    expect(final.failureReason).toBe('failed_trials');
    expect(final.errorMessage).toMatch(/^stopped early: \d+ trials had failed; the limit is 5 \(maxFailedTrials 5 of 362 combinations\)$/);
    expect(final.failedCombinations).toBeGreaterThanOrEqual(5);
    expect(final.completedCombinations + final.failedCombinations).toBeLessThan(362);
    // The failure ledger and the best trials it reached are kept on a run that ended early.
    expect(final.result?.failures).toEqual([
      expect.objectContaining({ count: final.failedCombinations, message: expect.stringMatching(/must be less than slow/) }),
    ]);
    // A best trial exactly when some trial completed (only slow 400 can complete here).
    expect(final.result?.best?.params.slow).toBe(final.completedCombinations > 0 ? 400 : undefined);
    expect(final.result?.top.length).toBe(Math.min(10, final.completedCombinations));
  });

  it('a run whose every trial fails ends Failed', async () => {
    const submitted = await http<{ id: string }>(sys.gateway.url, 'POST', '/api/optimizations', {
      strategy: 'sma-crossover',
      axes: { fast: [50, 60], slow: [20, 30] },
      dataset: { synthetic: { bars: 5_000, seed: 3, timeframe: '1h' } },
    });
    const final = await finished(submitted.body.id);
    expect(final).toMatchObject({ status: 'Failed', failureReason: 'all_trials_failed', failedCombinations: 4, completedCombinations: 0 });
  });

  it('cancelling a running optimization stops it promptly and discards its queued batches', async () => {
    const submitted = await http<{ id: string }>(sys.gateway.url, 'POST', '/api/optimizations', {
      strategy: 'sma-crossover',
      axes: { fast: { min: 2, max: 60, step: 1 }, slow: { min: 70, max: 200, step: 10 } },
      dataset: { synthetic: { bars: 500_000, seed: 9, timeframe: '1m' } },
    });
    const id = submitted.body.id;
    const running = await eventually(
      'some trials to finish',
      async () => (await http<OptStatus>(sys.gateway.url, 'GET', `/api/optimizations/${id}/status`)).body,
      (s) => s.status === 'Running' && s.completedCombinations > 0,
      { timeoutMs: 30_000 },
    );
    // While running: the best trial so far and an ETA from the observed rate.
    expect(running.bestTrial?.params.fast).toBeLessThan(running.bestTrial?.params.slow as number);
    expect(running.etaSeconds).toBeGreaterThanOrEqual(0);
    expect(running.trialsPerSecond).toBeGreaterThan(0);
    expect(running.result).toBeUndefined();
    // The details and the live stream (what the dashboard shows) carry the same progress.
    for (const [where, view] of [
      ['GET /api/runs/{id}', (await http<OptStatus>(sys.gateway.url, 'GET', `/api/runs/${id}`)).body],
      ['the live stream', await firstSnapshot<OptStatus>(sys.gateway.url, sys.apiKey, id)],
    ] as const) {
      expect({ where, status: view.status, best: typeof view.bestTrial?.score }).toEqual({ where, status: 'Running', best: 'number' });
      expect({ where, eta: view.etaSeconds !== undefined && view.trialsPerSecond !== undefined }).toEqual({ where, eta: true });
    }
    const cancelled = await http<{ id: string; status: string }>(sys.gateway.url, 'POST', `/api/optimizations/${id}/cancel`);
    expect(cancelled.status).toBe(200);
    expect(cancelled.body).toEqual({ id, status: 'Cancelled' });
    const final = await finished(id);
    expect(final.status).toBe('Cancelled');
    expect(final.completedCombinations).toBeLessThan(final.totalCombinations);
    // The progress it reached is kept: the best trials among those that completed.
    const bestListed = await http<TrialsPage>(sys.gateway.url, 'GET', `/api/runs/${id}/trials?status=Completed&sort=-score&limit=1`);
    expect(final.result?.best).toMatchObject({ score: bestListed.body.items[0]?.score, params: bestListed.body.items[0]?.params });
    expect(final.result?.top.length).toBe(Math.min(10, final.completedCombinations));
    expect((final.result?.best?.score ?? -Infinity) >= (running.bestTrial?.score ?? Infinity)).toBe(true);
    // …and shown alike by the details and by the stream (a snapshot, then the end).
    const details = await http<OptStatus>(sys.gateway.url, 'GET', `/api/runs/${id}`);
    expect(details.body.result).toEqual(final.result);
    expect(details.body.bestTrial).toEqual(final.result?.best);
    expect((await firstSnapshot<OptStatus>(sys.gateway.url, sys.apiKey, id)).result).toEqual(final.result);
    // Its queued batches are dropped unrun by the workers that take them.
    const nc = await connect({ servers: NATS_URL });
    try {
      const jsm = await jetstreamManager(nc);
      const subject = sys.iso.topology.trialWorkSubject(id);
      await eventually(
        'the cancelled run to have nothing left in the work queue',
        async () => (await jsm.streams.info(sys.iso.topology.streams.work.name, { subjects_filter: subject })).state.subjects?.[subject] ?? 0,
        (queued) => queued === 0,
        { timeoutMs: 10_000, intervalMs: 100 },
      );
    } finally {
      await nc.close();
    }
    const again = await http<{ status: string }>(sys.gateway.url, 'POST', `/api/optimizations/${id}/cancel`);
    expect(again.status).toBe(409);
    expect(again.body.status).toBe('Cancelled');
  });

  it('optimizations running side by side keep their own queues: another run starting or being cancelled strands none of their batches', async () => {
    // A long grid with batches still queued when a second run schedules its own and is cancelled.
    // (On NATS 2.9 a subject-filtered purge of the work stream also advanced the shared consumer
    // past other runs' queued batches, leaving their run Running until its timeout.)
    const long = await http<{ id: string; totalCombinations: number }>(sys.gateway.url, 'POST', '/api/optimizations', {
      strategy: 'sma-crossover',
      axes: { fast: { min: 2, max: 41, step: 1 }, slow: { min: 50, max: 149, step: 1 } },
      dataset: { synthetic: { bars: 300_000, seed: 21, timeframe: '1m' } },
      // Stranded batches would leave it Running: fail it (and this test) within a bound instead.
      timeoutSeconds: 60,
    });
    expect(long.status).toBe(202);
    await eventually(
      'the long grid to record its first trials',
      async () => (await http<OptStatus>(sys.gateway.url, 'GET', `/api/optimizations/${long.body.id}/status`)).body,
      (s) => s.completedCombinations > 0,
      { timeoutMs: 30_000, intervalMs: 50 },
    );
    const side = await http<{ id: string }>(sys.gateway.url, 'POST', '/api/optimizations', {
      strategy: 'sma-crossover',
      axes: { fast: { min: 2, max: 21, step: 1 }, slow: { min: 30, max: 129, step: 1 } },
      dataset: { synthetic: { bars: 300_000, seed: 22, timeframe: '1m' } },
    });
    expect(side.status).toBe(202);
    await eventually(
      'the side grid to start',
      async () => (await http<OptStatus>(sys.gateway.url, 'GET', `/api/optimizations/${side.body.id}/status`)).body,
      (s) => s.status === 'Running',
      { timeoutMs: 30_000, intervalMs: 50 },
    );
    const cancelled = await http(sys.gateway.url, 'POST', `/api/optimizations/${side.body.id}/cancel`);
    expect([200, 202]).toContain(cancelled.status);

    const final = await eventually(
      `the long grid ${long.body.id} to finish`,
      async () => (await http<OptStatus>(sys.gateway.url, 'GET', `/api/optimizations/${long.body.id}/status`)).body,
      (s) => ['Completed', 'Failed', 'Cancelled'].includes(s.status),
      { timeoutMs: 90_000, intervalMs: 200 },
    );
    expect(final).toMatchObject({ status: 'Completed', completedCombinations: 4000, failedCombinations: 0 });
    expect((await finished(side.body.id)).status).toBe('Cancelled');
    // The cancelled run's queued batches are discarded (taken and dropped without running), the
    // completed run's all consumed: nothing of either is left in the work queue.
    const nc = await connect({ servers: NATS_URL });
    try {
      const jsm = await jetstreamManager(nc);
      const work = sys.iso.topology.streams.work.name;
      await eventually(
        'both runs to have nothing left in the work queue',
        async () => (await jsm.streams.info(work, { subjects_filter: '>' })).state.subjects ?? {},
        (subjects) =>
          (subjects[sys.iso.topology.trialWorkSubject(long.body.id)] ?? 0) === 0 &&
          (subjects[sys.iso.topology.trialWorkSubject(side.body.id)] ?? 0) === 0,
        { timeoutMs: 15_000, intervalMs: 100 },
      );
    } finally {
      await nc.close();
    }
  }, 150_000);

  it('a body that is not JSON (curl -d without a content-type sends a form) is a 415 saying so', async () => {
    const r = await sys.fetch('/api/optimizations', {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: JSON.stringify({ strategy: 'sma-crossover', axes, dataset }),
    });
    expect(r.status).toBe(415);
    expect(await r.json()).toMatchObject({ message: expect.stringMatching(/content-type: application\/json \(got application\/x-www-form-urlencoded\)/) });
    // JSON with parameters, in any case, is JSON.
    const json = await sys.fetch('/api/optimizations', {
      method: 'POST',
      headers: { 'content-type': 'Application/JSON; charset=utf-8' },
      body: JSON.stringify({ strategy: 'sma-crossover', axes: { fast: [5], slow: [20] }, dataset }),
    });
    expect(json.status).toBe(202);
  });

  describe('bad grids are a 400 naming the field', () => {
    const cases: [string, Record<string, unknown>, string, RegExp][] = [
      ['an axis the strategy does not declare', { axes: { speed: [1, 2] } }, 'axes.speed', /unknown parameter/],
      ['an axis value out of bounds', { axes: { fast: [0, 5], slow: [20] } }, 'axes.fast', /value 0/],
      ['a non-integer range for an integer parameter', { axes: { fast: { min: 1, max: 5, step: 0.5 } } }, 'axes.fast', /integers/],
      ['a constraint that is not an expression', { axes, constraints: ['fast <'] }, 'constraints.0', /unexpected end/],
      ['a constraint naming an unknown parameter', { axes, constraints: ['fast < slowest'] }, 'constraints.0', /unknown parameter "slowest"/],
      [
        'a grid larger than the limit',
        { axes: { fast: { min: 1, max: 1000, step: 1 }, slow: { min: 2, max: 1000, step: 1 } }, constraints: ['fast < slow'] },
        'axes',
        /the grid has 499500 combinations after constraints; the limit is 10000/,
      ],
      [
        'an unconstrained grid larger than the limit',
        { axes: { fast: { min: 1, max: 200, step: 1 }, slow: { min: 300, max: 399, step: 1 } } },
        'axes',
        /^the grid has 20000 combinations; the limit is 10000/,
      ],
      ['constraints nothing satisfies', { axes, constraints: ['fast > 1000'] }, 'constraints', /no combination/],
      ['a constraint that is a number, not a condition', { axes, constraints: ['fast'] }, 'constraints.0', /a constraint must compare/],
      ['an axis that is neither a range nor a list', { axes: { fast: { min: 5, max: 10 } } }, 'axes.fast', /expected a range \{min, max, step\}/],
      ['a maxFailedTrials between a share and a count', { axes, maxFailedTrials: 1.5 }, 'maxFailedTrials', /whole number of trials .* or a share/],
    ];
    it.each(cases)('%s', async (_name, patch, field, reason) => {
      const r = await http<{ issues: { field: string; reason: string }[] }>(sys.gateway.url, 'POST', '/api/optimizations', {
        strategy: 'sma-crossover',
        dataset,
        ...patch,
      });
      expect(r.status).toBe(400);
      const issue = r.body.issues.find((i) => i.field === field);
      expect({ field: issue?.field, reason: issue?.reason }).toEqual({ field, reason: expect.stringMatching(reason) });
    });
  });
});

describe('a coordinator that hears none of the batch summaries (all lost) counts from the stream', () => {
  let sys: TestSystem;

  beforeAll(async () => {
    sys = await TestSystem.start(['gateway', 'projection']);
    await sys.spawn('engine-worker', { RUNFORGE_TEST_DEAF_TO_BATCH_SUMMARIES: '1' });
  });

  afterAll(async () => {
    await sys?.stop();
  });

  it('ends Completed with the exact counts, and its result is the stored trials’ best ten and failure group', async () => {
    const submitted = await http<{ id: string }>(sys.gateway.url, 'POST', '/api/optimizations', { strategy: 'sma-crossover', axes, dataset });
    expect(submitted.status).toBe(202);
    const id = submitted.body.id;
    const final = await eventually(
      `optimization ${id} to finish`,
      async () => (await http<OptStatus>(sys.gateway.url, 'GET', `/api/optimizations/${id}/status`)).body,
      (s) => ['Completed', 'Failed', 'Cancelled'].includes(s.status),
      { timeoutMs: 90_000, intervalMs: 100 },
    );
    expect(final).toMatchObject({ status: 'Completed', completedCombinations: 163, failedCombinations: 32 });

    // The result the coordinator wrote is what the stored trials say, ranked by the trials API.
    const best = await http<TrialsPage>(sys.gateway.url, 'GET', `/api/runs/${id}/trials?status=Completed&sort=-score&limit=10`);
    expect(final.result?.top.map((t) => [t.params, t.score])).toEqual(best.body.items.map((t) => [t.params, t.score]));
    const firstFailed = await http<TrialsPage>(sys.gateway.url, 'GET', `/api/runs/${id}/trials?status=Failed&sort=index&limit=1`);
    const sample = firstFailed.body.items[0];
    expect(final.result?.failures).toEqual([
      expect.objectContaining({ count: 32, message: sample?.errorMessage, sampleTrialId: sample?.trialId }),
    ]);
  });
});
