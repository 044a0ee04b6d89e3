import { parseOhlcvCsv, runBacktest, sliceBars } from '@runforge/engine';
import { waitForStatus } from '../support/runs';
import { http, TestSystem } from '../support/system';

/** A small deterministic hourly CSV: a slow sine wave with noise-free OHLC around it. */
function csv(rows: number, header = 'timestamp,open,high,low,close,volume'): string {
  const lines = [header];
  let prev = 100;
  for (let i = 0; i < rows; i++) {
    const t = new Date(Date.UTC(2024, 0, 1) + i * 3600_000).toISOString();
    const close = 100 + 10 * Math.sin(i / 15) + (i % 7) * 0.1;
    const open = prev;
    lines.push([t, open, Math.max(open, close) + 0.5, Math.min(open, close) - 0.5, close, 1000 + i].join(','));
    prev = close;
  }
  return lines.join('\n') + '\n';
}

async function upload(sys: TestSystem, body: string, query = 'symbol=TEST') {
  const r = await sys.fetch(`/api/datasets?${query}`, { method: 'POST', headers: { 'content-type': 'text/csv' }, body });
  return { status: r.status, body: (await r.json()) as Record<string, unknown> & { issues?: { field: string; reason: string; line?: number }[] } };
}

describe('uploaded datasets: validated CSV, stored in the object store, used by backtests', () => {
  let sys: TestSystem;

  beforeAll(async () => {
    sys = await TestSystem.start(['gateway', 'engine-worker', 'projection']);
  });
  afterAll(async () => {
    await sys?.stop();
  });

  it('uploads, describes, lists, and runs a windowed backtest over it with the engine’s exact result', async () => {
    const text = csv(2_000);
    const up = await upload(sys, text, 'symbol=SINE&name=sine%20wave');
    expect(up.status).toBe(201);
    expect(up.body).toMatchObject({
      symbol: 'SINE',
      name: 'sine wave',
      timeframe: '1h',
      bars: 2_000,
      firstTime: '2024-01-01T00:00:00.000Z',
      checksum: expect.stringMatching(/^[0-9a-f]{16}$/),
    });
    const id = up.body.id as string;
    expect((await http(sys.gateway.url, 'GET', `/api/datasets/${id}`)).body).toEqual(up.body);
    const list = await http<{ items: { id: string }[] }>(sys.gateway.url, 'GET', '/api/datasets');
    expect(list.body.items.map((d) => d.id)).toContain(id);
    expect((await http(sys.gateway.url, 'GET', '/api/datasets/nope')).status).toBe(404);

    const from = '2024-01-10T00:00:00.000Z';
    const to = '2024-02-20T00:00:00.000Z';
    const submitted = await http<{ id: string; totalBars: number }>(sys.gateway.url, 'POST', '/api/backtests', {
      strategy: 'ema-crossover',
      params: { fast: 5, slow: 20 },
      dataset: { id, from, to },
    });
    expect(submitted.status).toBe(202);
    const parsed = parseOhlcvCsv(text);
    if (!parsed.ok) throw new Error('fixture CSV must parse');
    const window = sliceBars(parsed.bars, Date.parse(from), Date.parse(to));
    expect(submitted.body.totalBars).toBe(window.length);
    const final = await waitForStatus(sys, 'backtest', submitted.body.id, (s) => s.status === 'Completed' || s.status === 'Failed', 'the dataset backtest');
    expect(final.status).toBe('Completed');
    const direct = runBacktest(window, { strategy: 'ema-crossover', params: { fast: 5, slow: 20 } });
    expect((final as unknown as { result: { metrics: unknown } }).result.metrics).toEqual({ ...direct.metrics });
  });

  it('a bad row answers 400 with its line number and reason, and stores nothing', async () => {
    const before = await http<{ items: unknown[] }>(sys.gateway.url, 'GET', '/api/datasets');
    const lines = csv(50).split('\n');
    // line 1 is the header; make line 8's high lower than its close.
    const cells = (lines[7] as string).split(',');
    cells[2] = '1';
    lines[7] = cells.join(',');
    const bad = await upload(sys, lines.join('\n'));
    expect(bad.status).toBe(400);
    expect(bad.body.issues?.[0]).toMatchObject({ line: 8, reason: expect.stringMatching(/high/) });
    const after = await http<{ items: unknown[] }>(sys.gateway.url, 'GET', '/api/datasets');
    expect(after.body.items.length).toBe(before.body.items.length);
  });

  it('rejects a missing symbol, a non-CSV body and a backtest on an unknown dataset', async () => {
    expect((await upload(sys, csv(10), 'name=x')).body.issues?.[0]?.field).toBe('symbol');
    const json = await http<{ issues: { field: string }[] }>(sys.gateway.url, 'POST', '/api/datasets?symbol=X', { a: 1 });
    expect(json.status).toBe(400);
    const unknown = await http<{ issues: { field: string; reason: string }[] }>(sys.gateway.url, 'POST', '/api/backtests', {
      strategy: 'sma-crossover',
      dataset: { id: 'does-not-exist' },
    });
    expect(unknown.status).toBe(400);
    expect(unknown.body.issues[0]).toEqual({ field: 'dataset.id', reason: 'unknown dataset "does-not-exist"' });
    const inverted = await http<{ issues: { field: string; reason: string }[] }>(sys.gateway.url, 'POST', '/api/optimizations', {
      strategy: 'sma-crossover',
      axes: { fast: [5], slow: [20] },
      dataset: { id: 'does-not-exist', from: '2024-02-01T00:00:00Z', to: '2024-01-01T00:00:00Z' },
    });
    expect(inverted.status).toBe(400);
    expect(inverted.body.issues).toEqual([
      { field: 'dataset.to', reason: 'is before dataset.from (2024-02-01T00:00:00Z): the window would be empty' },
    ]);
  });

  it('an optimization over data that drives some trials to invalid numbers: those trials fail with the reason, the rest complete', async () => {
    // 400 calm hourly bars, then 20 whose price swings 1 ↔ 1e200: a position held there has returns
    // too large to square, so its metrics are NaN. slow = 500 needs more bars than the 420 there
    // are: those trials fail too, with the warm-up's reason.
    const lines = ['timestamp,open,high,low,close,volume'];
    let prev = 100;
    for (let i = 0; i < 420; i++) {
      const close = i < 400 ? 100 + 10 * Math.sin(i / 15) : i % 2 ? 1e200 : 1;
      const t = new Date(Date.UTC(2024, 0, 1) + i * 3600_000).toISOString();
      lines.push([t, prev, Math.max(prev, close), Math.min(prev, close), close, 1000].join(','));
      prev = close;
    }
    const text = `${lines.join('\n')}\n`;
    const up = await upload(sys, text, 'symbol=WILD');
    expect(up.status).toBe(201);
    const parsed = parseOhlcvCsv(text);
    if (!parsed.ok) throw new Error('fixture CSV must parse');
    const grid = [2, 5, 10].flatMap((fast) => [20, 50, 500].map((slow) => ({ fast, slow })));
    // What the engine itself says of each combination, run directly.
    const reasons = new Map<string, string>();
    const failing = grid.filter((params) => {
      try {
        runBacktest(parsed.bars, { strategy: 'sma-crossover', params });
        return false;
      } catch (err) {
        reasons.set(`${params.fast}/${params.slow}`, (err as { code?: string }).code ?? '');
        return true;
      }
    });
    // Both kinds of failure are in the grid, and some trials complete.
    expect(new Set(reasons.values())).toEqual(new Set(['INVALID_NUMBERS', 'STRATEGY_PARAMS_INVALID']));
    expect(failing.length).toBeLessThan(grid.length);

    const submitted = await http<{ id: string }>(sys.gateway.url, 'POST', '/api/optimizations', {
      strategy: 'sma-crossover',
      axes: { fast: [2, 5, 10], slow: [20, 50, 500] },
      dataset: { id: up.body.id },
    });
    expect(submitted.status).toBe(202);
    const final = await waitForStatus(sys, 'optimization', submitted.body.id, (s) => ['Completed', 'Failed'].includes(s.status), 'the optimization');
    expect(final).toMatchObject({ status: 'Completed', completedCombinations: grid.length - failing.length, failedCombinations: failing.length });
    const failed = await http<{ items: { params: { fast: number; slow: number }; errorMessage: string; errorStackTrace: string }[] }>(
      sys.gateway.url,
      'GET',
      `/api/runs/${submitted.body.id}/trials?status=Failed`,
    );
    expect(failed.body.items.map((t) => t.params).sort((a, b) => a.fast - b.fast || a.slow - b.slow)).toEqual(failing);
    for (const t of failed.body.items) {
      const invalid = reasons.get(`${t.params.fast}/${t.params.slow}`) === 'INVALID_NUMBERS';
      expect(t.errorMessage).toMatch(
        invalid ? /is NaN; the bars or the strategy produced invalid numbers/ : /^slow \(500\) needs at least 501 bars .*; the dataset has 420$/,
      );
      expect(t.errorStackTrace).toMatch(/\n\s+at /);
    }
  });
});
