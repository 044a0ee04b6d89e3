import {
  BacktestRequestSchema,
  createEvent,
  evolveRun,
  pickRun,
  storableJson,
  storableText,
  RUN_COLUMNS,
  RUN_FIELD_NAMES,
  RUN_FIELDS,
  RUN_SUMMARY_FIELDS,
  runColumnOf,
  runFromColumns,
  runToColumns,
  type RunView,
} from './index';

const meta = (attempt = 0, at = '2026-01-01T00:00:00.000Z') => ({ runId: 'r1', attempt, occurredAt: at });
const request = BacktestRequestSchema.parse({
  strategy: 'sma-crossover',
  params: { fast: 5, slow: 20 },
  dataset: { synthetic: { bars: 1000, seed: 1, timeframe: '1h' } },
});

/** A backtest that started, moved and completed: every kind of field holds a value. */
function completedRun(): RunView {
  const events = [
    createEvent('RunRequested', meta(), { kind: 'backtest', request, totalBars: 1000, triggeredBy: 'api' }),
    createEvent('RunStarted', meta(1, '2026-01-01T00:00:01.000Z'), { workerId: 'w1', totalBars: 1000 }),
    createEvent('BarProgressed', meta(1, '2026-01-01T00:00:02.500Z'), { processedBars: 500, totalBars: 1000 }),
    createEvent('RunCompleted', meta(1, '2026-01-01T00:00:04.000Z'), {
      durationMs: 3000,
      result: { metrics: { sharpe: 1.5 }, equityCurve: [], bars: 1000 },
      processedBars: 1000,
    }),
  ];
  const view = events.reduce<RunView | undefined>(
    (v, e, i) => evolveRun(v, e, { seq: i + 1, traceId: 't1' }),
    undefined,
  );
  if (!view) throw new Error('the fold made no run');
  return view;
}

/** What pg answers for a row written with `runToColumns`: timestamps as Dates, bigints as strings, jsonb parsed. */
function asPgAnswers(values: readonly unknown[]): Record<string, unknown> {
  const row: Record<string, unknown> = {};
  RUN_FIELD_NAMES.forEach((name, i) => {
    const value = values[i];
    const stored = RUN_FIELDS[name].stored;
    if (value === null) row[runColumnOf(name)] = null;
    else if (stored === 'timestamptz') row[runColumnOf(name)] = new Date(value as string);
    else if (stored === 'bigint') row[runColumnOf(name)] = (value as number).toString();
    else if (stored === 'jsonb' || stored === 'json') row[runColumnOf(name)] = JSON.parse(value as string);
    else row[runColumnOf(name)] = value;
  });
  return row;
}

describe('the run field table', () => {
  it('names each column after its field in snake_case', () => {
    expect(runColumnOf('longestProgressGapMs')).toBe('longest_progress_gap_ms');
    expect(RUN_COLUMNS).toContain('cancel_requested_at');
    expect(RUN_COLUMNS).toHaveLength(RUN_FIELD_NAMES.length);
  });

  it('given a folded run, when written and read back as pg answers, then the same run comes back', () => {
    const run = completedRun();
    expect(Object.keys(run).sort()).toEqual([...RUN_FIELD_NAMES].sort());
    expect(runFromColumns(asPgAnswers(runToColumns(run)))).toEqual(run);
  });

  it('reads a subset of the columns, in the order asked for', () => {
    const run = completedRun();
    const summary = runFromColumns(asPgAnswers(runToColumns(run)), RUN_SUMMARY_FIELDS);
    expect(Object.keys(summary)).toEqual([...RUN_SUMMARY_FIELDS]);
    expect(summary).toEqual(pickRun(run, RUN_SUMMARY_FIELDS));
  });

  it('given text with U+0000 (which Postgres cannot hold), then it is written as U+FFFD, in text and in jsonb', () => {
    const run = { ...completedRun(), errorMessage: 'bad\u0000byte', params: { note: 'a\u0000b', n: 1 } };
    const columns = runToColumns(run);
    const at = (name: string) => columns[RUN_FIELD_NAMES.indexOf(name as (typeof RUN_FIELD_NAMES)[number])];
    expect(at('errorMessage')).toBe('bad\uFFFDbyte');
    expect(JSON.parse(at('params') as string)).toEqual({ note: 'a\uFFFDb', n: 1 });
    expect(storableText('clean')).toBe('clean');
    expect(storableJson({ k: ['\u0000'] })).toBe('{"k":["\uFFFD"]}');
  });
});
