import { decodeCursor, encodeCursor } from './cursor';
import { RunListQuerySchema } from './list-runs/list-runs.query';
import { RunLogsQuerySchema } from './run-logs/run-logs.controller';
import { levelsFrom } from './runs.queries';

describe('run listing and log queries', () => {
  it('reads list filters from query strings: comma lists, repeated parameters, defaults', () => {
    const q = RunListQuerySchema.parse({ status: 'Failed,Cancelled', kind: ['backtest'], limit: '20' });
    expect(q).toEqual({ status: ['Failed', 'Cancelled'], kind: ['backtest'], limit: 20 });
    expect(RunListQuerySchema.parse({}).limit).toBe(50);
    expect(RunListQuerySchema.parse({ dataSourceId: ['a', 'src-1'] }).dataSourceId).toBe('src-1');
    expect(RunListQuerySchema.parse({ strategy: 'sma-crossover, rsi-reversion' }).strategy).toEqual([
      'sma-crossover',
      'rsi-reversion',
    ]);
    const typo = RunListQuerySchema.safeParse({ strategy: 'sma-crosover' });
    expect(typo.error?.issues[0]?.message).toMatch(/^must be one of .*sma-crossover.*, got "sma-crosover"$/);
    const inverted = RunListQuerySchema.safeParse({ from: '2026-03-02T00:00:00Z', to: '2026-03-01T00:00:00Z' });
    expect(inverted.error?.issues.map((i) => i.path.join('.'))).toEqual(['to']);
  });

  it('round-trips its cursor and rejects anything else', () => {
    const c = encodeCursor(['2026-03-01T10:00:00.123456Z', 'run-1']);
    expect(RunListQuerySchema.parse({ cursor: c }).cursor).toEqual({
      requestedAt: '2026-03-01T10:00:00.123456Z',
      id: 'run-1',
    });
    expect(RunListQuerySchema.safeParse({ cursor: 'garbage' }).success).toBe(false);
    expect(RunListQuerySchema.safeParse({ cursor: encodeCursor([42]) }).success).toBe(false);
    expect(decodeCursor('%%%')).toBeUndefined();
  });

  it('treats a log level as a minimum severity', () => {
    expect(levelsFrom('WARNING')).toEqual(['WARNING', 'ERROR']);
    expect(levelsFrom('DEBUG')).toEqual(['DEBUG', 'INFO', 'WARNING', 'ERROR']);
    expect(RunLogsQuerySchema.parse({ level: 'error' }).level).toBe('ERROR');
    expect(RunLogsQuerySchema.safeParse({ cursor: encodeCursor([-1]) }).success).toBe(false);
    expect(RunLogsQuerySchema.parse({ cursor: encodeCursor([17]) }).cursor).toBe(17);
  });
});
