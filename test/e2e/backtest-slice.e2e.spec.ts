import { TestBus } from '../support/bus';
import { connect } from '@nats-io/transport-node';
import { jetstreamManager } from '@nats-io/jetstream';
import { generateSyntheticBars, runBacktest } from '@runforge/engine';

import { eventually } from '../support/eventually';
import { http, NATS_URL, TestSystem } from '../support/system';

interface Status {
  id: string;
  status: string;
  totalBars: number;
  processedBars: number;
  result?: { metrics: Record<string, number>; equityCurve: unknown[] };
  errorMessage?: string;
  traceId?: string | null;
}

describe('a backtest travels gateway → JetStream → worker → projection → Postgres → status', () => {
  let sys: TestSystem;

  beforeAll(async () => {
    // Progress on every engine chunk, so a 2M-bar run reports many intermediate values.
    sys = await TestSystem.start(undefined, { RUNFORGE_PROGRESS_INTERVAL_MS: '0' });
  });

  afterAll(async () => {
    await sys?.stop();
  });

  it('answers 202 at once, never 404 after it, and ends Completed with the engine’s own metrics', async () => {
    const body = {
      strategy: 'sma-crossover',
      params: { fast: 10, slow: 30 },
      dataset: { synthetic: { bars: 2_000_000, seed: 42, timeframe: '1m' } },
    };
    const submitted = await http<{ id: string; status: string; totalBars: number }>(
      sys.gateway.url,
      'POST',
      '/api/backtests',
      body,
    );
    expect(submitted.status).toBe(202);
    expect(submitted.body).toEqual({ id: expect.any(String), status: 'Pending', totalBars: 2_000_000 });
    const id = submitted.body.id;
    expect(submitted.headers.get('location')).toBe(`/api/backtests/${id}/status`);

    // Read-your-writes: the very next GET knows the run.
    const first = await http<Status>(sys.gateway.url, 'GET', `/api/backtests/${id}/status`);
    expect(first.status).toBe(200);
    expect(['Pending', 'Running', 'Completed']).toContain(first.body.status);

    const seen: number[] = [];
    const final = await eventually(
      'the backtest to complete',
      async () => {
        const r = await http<Status>(sys.gateway.url, 'GET', `/api/backtests/${id}/status`);
        expect(r.status).toBe(200);
        seen.push(r.body.processedBars);
        return r.body;
      },
      (s) => s.status === 'Completed' || s.status === 'Failed',
      { timeoutMs: 60_000, intervalMs: 20 },
    );
    expect(final.errorMessage).toBeUndefined();
    expect(final.status).toBe('Completed');
    expect(final.processedBars).toBe(final.totalBars);
    expect(final.totalBars).toBe(2_000_000);
    // Progress never goes backwards as seen by a poller.
    for (let i = 1; i < seen.length; i++) expect(seen[i]).toBeGreaterThanOrEqual(seen[i - 1] as number);

    // The event history holds rising BarProgressed events ending at 100%.
    const nc = await connect({ servers: NATS_URL });
    try {
      const bus = new TestBus(nc, await jetstreamManager(nc), sys.iso.topology);
      const history = await bus.history(id);
      const types = history.map((h) => h.event.type);
      expect(types[0]).toBe('RunRequested');
      expect(types).toContain('RunStarted');
      // The run's end is its last event (docs/architecture.md, "A run's end is its last event").
      expect(types[types.length - 1]).toBe('RunCompleted');
      const progress = history.flatMap((h) => (h.event.type === 'BarProgressed' ? [h.event.data.processedBars] : []));
      expect(progress.length).toBeGreaterThan(5);
      for (let i = 1; i < progress.length; i++) expect(progress[i]).toBeGreaterThan(progress[i - 1] as number);
      expect(progress[progress.length - 1]).toBe(2_000_000);
    } finally {
      await nc.close();
    }

    // The worker's result is exactly what the engine computes for the same request.
    const direct = runBacktest(
      generateSyntheticBars({ bars: 2_000_000, seed: 42, timeframe: '1m', startTime: Date.UTC(2020, 0, 1) }),
      {
        strategy: 'sma-crossover',
        params: { fast: 10, slow: 30 },
        initialCapital: 10_000,
        commissionBps: 1,
        slippageBps: 0,
        positionFraction: 1,
        allowShort: false,
      },
    );
    expect(final.result?.metrics).toEqual({ ...direct.metrics });
    expect(final.result?.equityCurve).toEqual(direct.equityCurve);
    for (const key of ['totalReturn', 'maxDrawdown', 'tradeCount', 'sharpe']) {
      expect(Number.isFinite(final.result?.metrics[key])).toBe(true);
    }
  });

  it('describes itself in OpenAPI at /docs, with request schemas from the validators', async () => {
    const doc = await http<{
      openapi: string;
      paths: Record<string, unknown>;
      components: { schemas: Record<string, { properties?: Record<string, unknown> }> };
    }>(sys.gateway.url, 'GET', '/docs/openapi.json');
    expect(doc.status).toBe(200);
    expect(doc.body.openapi).toBe('3.1.0');
    expect(Object.keys(doc.body.paths)).toEqual(
      expect.arrayContaining(['/api/backtests', '/api/optimizations', '/api/runs', '/api/schedules']),
    );
    expect(Object.keys(doc.body.components.schemas.BacktestRequest?.properties ?? {})).toEqual(
      expect.arrayContaining(['strategy', 'params', 'dataset', 'commissionBps', 'priority']),
    );
    const page = await fetch(`${sys.gateway.url}/docs`);
    expect(page.status).toBe(200);
    expect(await page.text()).toContain('/docs/init.js');
    expect(await (await fetch(`${sys.gateway.url}/docs/init.js`)).text()).toContain('/docs/openapi.json');
    const ui = await fetch(`${sys.gateway.url}/docs/assets/swagger-ui-bundle.js`);
    expect(ui.status).toBe(200);
  });

  it('serves the strategies with their parameters and the vocabulary the request forms offer', async () => {
    const r = await http<{
      strategies: { name: string; params: { name: string }[] }[];
      timeframes: string[];
      objectiveMetrics: string[];
    }>(sys.gateway.url, 'GET', '/api/strategies');
    expect(r.status).toBe(200);
    const sma = r.body.strategies.find((s) => s.name === 'sma-crossover');
    expect(sma?.params.map((p) => p.name)).toEqual(['fast', 'slow']);
    expect(r.body.timeframes).toEqual(['1m', '5m', '15m', '30m', '1h', '4h', '1d']);
    expect(r.body.objectiveMetrics).toContain('sharpe');
  });

  it('answers 404 for an unknown run', async () => {
    const r = await http(sys.gateway.url, 'GET', '/api/backtests/0190a0b0-0000-7000-8000-000000000000/status');
    expect(r.status).toBe(404);
    expect(r.body).toMatchObject({ statusCode: 404, message: expect.stringContaining('no backtest') });
  });

  describe('bad input is a 400 naming the field, and nothing is published', () => {
    const valid = {
      strategy: 'sma-crossover',
      params: { fast: 10, slow: 30 },
      dataset: { synthetic: { bars: 1000, seed: 1, timeframe: '1h' } },
    };
    const cases: [string, unknown, string, RegExp][] = [
      ['unknown strategy', { ...valid, strategy: 'moon-phase' }, 'strategy', /unknown strategy/],
      ['out-of-range parameter', { ...valid, params: { fast: 0, slow: 30 } }, 'params.fast', /between|>=|at least/i],
      ['non-integer parameter', { ...valid, params: { fast: 2.5, slow: 30 } }, 'params.fast', /integer/],
      ['fast >= slow', { ...valid, params: { fast: 50, slow: 20 } }, 'params.fast', /less than/],
      ['unknown parameter', { ...valid, params: { fast: 5, slow: 20, speed: 3 } }, 'params.speed', /unknown/],
      ['missing dataset', { strategy: 'sma-crossover', params: {} }, 'dataset', /.+/],
      [
        'bars out of range',
        { ...valid, dataset: { synthetic: { bars: 1, seed: 1, timeframe: '1h' } } },
        'dataset.synthetic.bars',
        /.+/,
      ],
      [
        'bad timeframe',
        { ...valid, dataset: { synthetic: { bars: 100, seed: 1, timeframe: '7m' } } },
        'dataset.synthetic.timeframe',
        /.+/,
      ],
      [
        'a warm-up longer than the dataset',
        { ...valid, params: { fast: 10, slow: 500 }, dataset: { synthetic: { bars: 300, seed: 1, timeframe: '1h' } } },
        'params.slow',
        /^slow \(500\) needs at least 501 bars .*; the dataset has 300$/,
      ],
      ['misspelt option', { ...valid, comissionBps: 2 }, 'comissionBps', /unknown field/],
      ['negative commission', { ...valid, commissionBps: -1 }, 'commissionBps', /.+/],
    ];

    it.each(cases)('%s', async (_name, body, field, reason) => {
      const before = await streamMessages(sys);
      const r = await http<{ issues: { field: string; reason: string }[] }>(
        sys.gateway.url,
        'POST',
        '/api/backtests',
        body,
      );
      expect(r.status).toBe(400);
      const issue = r.body.issues.find((i) => i.field === field);
      expect({ field: issue?.field, matches: reason.test(issue?.reason ?? '') }).toEqual({ field, matches: true });
      expect(await streamMessages(sys)).toBe(before);
    });

    it('malformed JSON', async () => {
      const before = await streamMessages(sys);
      const r = await http<{ message: string; stack?: string }>(
        sys.gateway.url,
        'POST',
        '/api/backtests',
        '{"strategy": ',
      );
      expect(r.status).toBe(400);
      expect(r.body.message).toMatch(/JSON/i);
      expect(JSON.stringify(r.body)).not.toMatch(/at .*\.js:\d+/);
      expect(await streamMessages(sys)).toBe(before);
    });

    it('a body that is not an object', async () => {
      const r = await http<{ issues: { field: string }[] }>(sys.gateway.url, 'POST', '/api/backtests', '[1,2]');
      expect(r.status).toBe(400);
      expect(r.body.issues[0]?.field).toBe('(body)');
    });
  });
});

async function streamMessages(sys: TestSystem): Promise<number> {
  const nc = await connect({ servers: NATS_URL });
  try {
    const jsm = await jetstreamManager(nc);
    return (await jsm.streams.info(sys.iso.topology.streams.runs.name)).state.messages;
  } finally {
    await nc.close();
  }
}
