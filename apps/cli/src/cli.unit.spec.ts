import type { StreamedRun } from '@runforge/client';
import { axisOf, FlagError, requestFromFlags, sinceToInstant } from './request';
import { endSummary, PaceMeter, progressDetail, progressLine } from './render/run';
import { table, wrap } from './render/text';
import { describeError } from './main';
import { RunForgeError } from '@runforge/client';

describe('requestFromFlags', () => {
  it('builds a backtest over synthetic bars, values typed as JSON when they parse', () => {
    expect(
      requestFromFlags({
        strategy: 'sma-crossover',
        param: ['fast=10', 'slow=30', 'mode=fast'],
        bars: '2000',
        timeframe: '1m',
      }),
    ).toEqual({
      strategy: 'sma-crossover',
      params: { fast: 10, slow: 30, mode: 'fast' },
      dataset: { synthetic: { bars: 2000, seed: 1, timeframe: '1m' } },
    });
  });

  it('builds an optimization: ranges and lists of values, constraints, the objective', () => {
    expect(
      requestFromFlags({
        axis: ['fast=5:50:5', 'slow=20,50'],
        constraint: ['fast < slow'],
        objective: 'maxDrawdown:minimize',
        dataset: 'ds1',
        from: '2026-01-01T00:00:00Z',
      }),
    ).toEqual({
      axes: { fast: { min: 5, max: 50, step: 5 }, slow: [20, 50] },
      constraints: ['fast < slow'],
      objective: { metric: 'maxDrawdown', direction: 'minimize' },
      dataset: { id: 'ds1', from: '2026-01-01T00:00:00Z' },
    });
  });

  it('adds flags to a file’s request, and --set reaches any field', () => {
    const base = { data_source_id: 'src', model_config: { mip_gap: 0.01 } };
    expect(requestFromFlags({ set: ['model_config.time_limit=30', 'triggered_by=cli'] }, base)).toEqual({
      data_source_id: 'src',
      model_config: { mip_gap: 0.01, time_limit: 30 },
      triggered_by: 'cli',
    });
    expect(base.model_config).toEqual({ mip_gap: 0.01 });
  });

  it('names the flag that is malformed', () => {
    expect(() => requestFromFlags({ param: ['fast'] })).toThrow(
      new FlagError('--param', 'expected name=value, got "fast"'),
    );
    expect(axisOf('a,b')).toEqual(['a', 'b']);
  });
});

describe('sinceToInstant', () => {
  const now = Date.parse('2026-12-06T12:00:00Z');
  it('reads spans back from now and ISO times', () => {
    expect(sinceToInstant('2h', now)).toBe('2026-12-06T10:00:00.000Z');
    expect(sinceToInstant('7d', now)).toBe('2026-11-29T12:00:00.000Z');
    expect(sinceToInstant('2026-12-01T00:00:00+01:00', now)).toBe('2026-11-30T23:00:00.000Z');
    expect(() => sinceToInstant('yesterday', now)).toThrow(/--since/);
  });
});

describe('table and wrap', () => {
  it('fits 80 columns by truncating the flexible columns', () => {
    const rows = [['0193a1b2-0000-7000-8000-000000000001', 'x'.repeat(90), 'Completed']];
    const out = table([{ header: 'ID' }, { header: 'NOTE', flex: true }, { header: 'STATUS' }], rows);
    for (const line of out.split('\n')) expect(line.length).toBeLessThanOrEqual(80);
    expect(out).toContain('0193a1b2-0000-7000-8000-000000000001');
    expect(out).toContain('Completed');
    expect(out).toContain('…');
  });

  it('wraps long text under an indent', () => {
    const out = wrap('word '.repeat(40).trim(), 30, '  ');
    const lines = out.split('\n');
    expect(lines.length).toBeGreaterThan(1);
    for (const line of lines) expect(line.length).toBeLessThanOrEqual(30);
    expect(lines[1]?.startsWith('  ')).toBe(true);
  });
});

const run = (over: Partial<StreamedRun>): StreamedRun => ({
  id: 'r1',
  kind: 'backtest',
  status: 'Running',
  strategy: 'sma-crossover',
  request: {},
  totalBars: 1000,
  processedBars: 0,
  totalCombinations: null,
  completedCombinations: 0,
  failedCombinations: 0,
  progress: 0,
  durationMs: null,
  attempt: 1,
  errorMessage: null,
  errorStackTrace: null,
  failureReason: null,
  result: null,
  requestedAt: '2026-12-06T12:00:00Z',
  startedAt: null,
  completedAt: null,
  lastProgressAt: null,
  longestProgressGapMs: 0,
  traceId: null,
  scheduleId: null,
  triggeredBy: 'api',
  principal: null,
  ...over,
});

describe('progress', () => {
  it('measures a rate and an ETA from the samples it sees', () => {
    const meter = new PaceMeter();
    expect(meter.sample(run({ processedBars: 100, progress: 10 }), 0)).toEqual({});
    const pace = meter.sample(run({ processedBars: 300, progress: 30 }), 2000);
    expect(pace).toEqual({ rate: 100, etaSeconds: 7 });
    expect(progressDetail(run({ processedBars: 300, progress: 30 }), pace)).toBe('300/1,000 bars | 100/s | ETA 7 s');
  });

  it('takes an optimization’s own rate and ETA, and counts its failed trials', () => {
    const opt = run({
      kind: 'optimization',
      totalCombinations: 1000,
      completedCombinations: 447,
      failedCombinations: 3,
      progress: 45,
      trialsPerSecond: 12.34,
      etaSeconds: 44.6,
    });
    expect(progressLine(opt, new PaceMeter().sample(opt, 0))).toBe(
      'Running    45%  450/1,000 trials | 12.3/s | ETA 45 s | 3 failed',
    );
    expect(progressDetail({ ...opt, stalled: true, etaSeconds: undefined }, {})).toBe(
      '450/1,000 trials | stalled | 3 failed',
    );
  });

  it('ends with the result by kind, labelled', () => {
    const done = run({
      status: 'Completed',
      progress: 100,
      processedBars: 1000,
      durationMs: 1234,
      result: { metrics: { totalReturn: 0.1, maxDrawdownDurationBars: 12 } },
    });
    expect(endSummary(done)).toBe(
      ['Completed in 1.2 s: backtest r1', 'Total return      10 %', 'Longest drawdown  12 bars'].join('\n'),
    );
    const failed = endSummary(run({ status: 'Failed', errorMessage: 'boom', failureReason: 'error' }));
    expect(failed).toContain('error: boom');
    expect(failed).toContain('runforge logs r1 --level WARNING');
  });
});

describe('describeError', () => {
  it('shows a 400 per field with exit 2, and an unreachable gateway with exit 1', () => {
    const refused = new RunForgeError(400, 'request validation failed', [{ field: 'params.fast', reason: 'too big' }]);
    expect(describeError(refused)).toEqual({
      text: 'error: request validation failed\n  params.fast: too big',
      code: 2,
    });
    expect(describeError(new RunForgeError(403, 'needs role operator')).text).toBe(
      'error: forbidden: needs role operator',
    );
    expect(describeError(new RunForgeError(0, 'http://x (ECONNREFUSED)')).code).toBe(1);
    expect(describeError(new RunForgeError(503, 'the event log (NATS) is unavailable')).code).toBe(1);
  });
});
