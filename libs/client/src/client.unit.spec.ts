import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { RunForgeClient } from './client';
import { formatMetric, METRIC_LABELS, metricLabel } from './labels';
import { progressOf, shortId } from './progress';
import { queryString } from './client';

describe('labels', () => {
  it('gives every engine metric a label and a unit, and formats by unit', () => {
    for (const name of ['totalReturn', 'sharpe', 'maxDrawdown', 'maxDrawdownDurationBars', 'winRate', 'finalEquity'])
      expect(METRIC_LABELS[name]).toBeDefined();
    expect(metricLabel('maxDrawdownDurationBars')).toBe('Longest drawdown');
    expect(formatMetric('totalReturn', 0.12345)).toBe('12.35 %');
    expect(formatMetric('maxDrawdownDurationBars', 1234)).toBe('1,234 bars');
    expect(formatMetric('sharpe', 1.23456)).toBe('1.235');
    expect(formatMetric('objective_value', 1822.625)).toBe('1,822.63 €');
    expect(formatMetric('tradeCount', null)).toBe('–');
  });

  it('words an unknown metric from its name', () => {
    expect(metricLabel('someNewMetric')).toBe('Some new metric');
    expect(metricLabel('peak_power_mw')).toBe('Peak power mw');
    expect(formatMetric('someNewMetric', 0.5)).toBe('0.5');
  });
});

describe('progressOf', () => {
  const base = {
    progress: 40,
    totalBars: 0,
    processedBars: 0,
    totalCombinations: null,
    completedCombinations: 0,
    failedCombinations: 0,
  };
  it('counts bars, combinations (failed ones included) or percent by kind', () => {
    expect(progressOf({ ...base, kind: 'backtest', totalBars: 1000, processedBars: 400 })).toEqual({
      unit: 'bars',
      done: 400,
      total: 1000,
      percent: 40,
      failed: 0,
    });
    expect(
      progressOf({
        ...base,
        kind: 'optimization',
        totalCombinations: 10,
        completedCombinations: 3,
        failedCombinations: 1,
      }),
    ).toEqual({ unit: 'combinations', done: 4, total: 10, percent: 40, failed: 1 });
    expect(progressOf({ ...base, kind: 'battery-dp' })).toEqual({
      unit: 'percent',
      done: 40,
      total: 100,
      percent: 40,
      failed: 0,
    });
  });
});

describe('shortId', () => {
  it('tells apart time-ordered ids submitted together', () => {
    const ids = ['01a24a41-7c1e-7b3a-9f10-3c5e8d2a11f0', '01a24a41-7c1e-7b3a-9f10-77b0c4e9a2d1'];
    const shown = ids.map((id) => shortId(id));
    expect(shown[0]).not.toBe(shown[1]);
    expect(shown[0]).toBe('…8d2a11f0');
    expect(shortId('short')).toBe('short');
  });
});

describe('queryString', () => {
  it('leaves out what is unset and joins lists as the API reads them', () => {
    expect(queryString({ kind: ['a', 'b'], status: undefined, limit: 5, cursor: '' })).toBe('?kind=a%2Cb&limit=5');
    expect(queryString({})).toBe('');
  });
});

describe('RunForgeClient over HTTP', () => {
  let server: Server;
  let url: string;
  let seen: IncomingHttpHeaders[];

  beforeAll(async () => {
    seen = [];
    server = createServer((req, res) => {
      seen.push(req.headers);
      const status = req.headers.authorization === 'Bearer s3cret' ? 200 : 401;
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(
        JSON.stringify(
          status === 200 ? { items: [], nextCursor: null } : { statusCode: 401, message: 'no credential' },
        ),
      );
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
  });

  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

  it('sends the credential as a bearer token, and explains a 401', async () => {
    await expect(new RunForgeClient({ url, apiKey: 's3cret' }).list()).resolves.toEqual({
      items: [],
      nextCursor: null,
    });
    expect(seen[0]?.authorization).toBe('Bearer s3cret');
    const refused = await new RunForgeClient({ url }).list().catch((e: unknown) => e);
    expect(seen[1]?.authorization).toBeUndefined();
    expect(refused).toMatchObject({ status: 401, message: 'no credential' });
    expect((refused as { explanation: string }).explanation).toMatch(/^not signed in: set RUNFORGE_API_KEY/);
  });
});
