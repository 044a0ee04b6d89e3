import type { LogLevel } from '@runforge/contracts';
import type { ProgramLimits } from '@runforge/submission';
import { LineSplitter, LogGate, parseStdoutLine, ProgramOutput, type ProgramLine } from './program-output';

const LIMITS: ProgramLimits = { maxLineBytes: 64, maxLinesPerSecond: 5, maxLogBytes: 1024, maxResultBytes: 1024 };

describe('a program’s stdout line', () => {
  it.each<[string, ProgramLine]>([
    ['PROGRESS:42', { type: 'progress', percent: 42 }],
    ['PROGRESS: 42.5 ', { type: 'progress', percent: 42.5 }],
    ['PROGRESS:150', { type: 'progress', percent: 100 }],
    ['PROGRESS:-3', { type: 'progress', percent: 0 }],
    ['PROGRESS:abc', { type: 'log', level: 'INFO', message: 'PROGRESS:abc' }],
    ['PROGRESS:', { type: 'log', level: 'INFO', message: 'PROGRESS:' }],
    ['PROGRESS:Infinity', { type: 'log', level: 'INFO', message: 'PROGRESS:Infinity' }],
    ['INFO: hello', { type: 'log', level: 'INFO', message: 'hello' }],
    ['WARNING:tight', { type: 'log', level: 'WARNING', message: 'tight' }],
    ['ERROR: boom: bad input', { type: 'log', level: 'ERROR', message: 'boom: bad input' }],
    ['DEBUG: ', { type: 'log', level: 'DEBUG', message: '' }],
    ['WARN: not a level', { type: 'log', level: 'INFO', message: 'WARN: not a level' }],
    ['error: lower case', { type: 'log', level: 'INFO', message: 'error: lower case' }],
    ['plain text', { type: 'log', level: 'INFO', message: 'plain text' }],
    ['RESULT:{"revenue":1.5}', { type: 'result', value: { revenue: 1.5 } }],
    ['RESULT: [1, 2] ', { type: 'result', value: [1, 2] }],
    ['RESULT:null', { type: 'result', value: null }],
    ['', { type: 'blank' }],
    ['   ', { type: 'blank' }],
  ])('%j', (line, expected) => {
    expect(parseStdoutLine(line)).toEqual(expected);
  });

  it('a RESULT that is not JSON is a warning', () => {
    expect(parseStdoutLine('RESULT:{bad')).toEqual({
      type: 'log',
      level: 'WARNING',
      message: expect.stringMatching(/^ignored a RESULT line that is not valid JSON/),
    });
  });
});

describe('splitting output into lines', () => {
  const split = (chunks: (string | Buffer)[], limits = LIMITS) => {
    const splitter = new LineSplitter(limits);
    const lines = chunks.flatMap((c) => splitter.push(typeof c === 'string' ? Buffer.from(c) : c));
    return [...lines, ...splitter.end()];
  };
  const x = (n: number) => 'x'.repeat(n);

  it.each<[string, string[], { text: string; cut: boolean }[]]>([
    [
      'two lines',
      ['a\nb\n'],
      [
        { text: 'a', cut: false },
        { text: 'b', cut: false },
      ],
    ],
    [
      'a line across chunks, and a last line without newline',
      ['ab', 'c\nd'],
      [
        { text: 'abc', cut: false },
        { text: 'd', cut: false },
      ],
    ],
    ['CRLF', ['a\r\n'], [{ text: 'a', cut: false }]],
    [
      'empty lines',
      ['\n\n'],
      [
        { text: '', cut: false },
        { text: '', cut: false },
      ],
    ],
    ['a line at its bound', [`${x(64)}\n`], [{ text: x(64), cut: false }]],
    [
      'a long line',
      [`${x(100)}\nnext\n`],
      [
        { text: x(64), cut: true },
        { text: 'next', cut: false },
      ],
    ],
    [
      'a long line across chunks',
      [x(50), x(50), `${x(50)}\nok\n`],
      [
        { text: x(64), cut: true },
        { text: 'ok', cut: false },
      ],
    ],
    ['a long line that ends with the stream', [x(50), x(50)], [{ text: x(64), cut: true }]],
    ['a long RESULT line within its own bound', [`RESULT:${x(500)}\n`], [{ text: `RESULT:${x(500)}`, cut: false }]],
    [
      'a RESULT line over its bound',
      [`RESULT:${x(2000)}\nINFO: after\n`],
      [
        { text: `RESULT:${x(1017)}`, cut: true },
        { text: 'INFO: after', cut: false },
      ],
    ],
    [
      'a long line whose head comes in pieces',
      ['RES', 'ULT:', `${x(100)}\n`],
      [{ text: `RESULT:${x(100)}`, cut: false }],
    ],
  ])('%s', (_case, chunks, expected) => {
    expect(split(chunks)).toEqual(expected);
  });

  it.each<[string, string, string]>([
    ['a two-byte character', `a${'é'.repeat(40)}`, `a${'é'.repeat(31)}`],
    ['a four-byte character', `${x(62)}🙂🙂`, x(62)],
    ['a three-byte character', `${x(63)}€`, x(63)],
  ])('a cut does not split %s', (_case, line, kept) => {
    expect(split([`${line}\n`])).toEqual([{ text: kept, cut: true }]);
  });

  it('holds at most one line’s bound, however long a line without newline goes on', () => {
    const splitter = new LineSplitter(LIMITS);
    const chunk = Buffer.alloc(64 * 1024, 'x');
    const lines = [];
    let most = 0;
    for (let i = 0; i < 1600; i++) {
      lines.push(...splitter.push(chunk)); // 100 MiB in all
      most = Math.max(most, splitter.bufferedBytes);
    }
    lines.push(...splitter.push(Buffer.from('\nafter\n')));
    expect(most).toBeLessThanOrEqual(LIMITS.maxLineBytes);
    expect(lines).toEqual([
      { text: x(64), cut: true },
      { text: 'after', cut: false },
    ]);
  });
});

describe('bounding log lines', () => {
  const gate = (limits: Pick<ProgramLimits, 'maxLinesPerSecond' | 'maxLogBytes'>) => {
    const logged: [LogLevel, string][] = [];
    return { logged, gate: new LogGate(limits, (level, message) => logged.push([level, message])) };
  };

  it('passes maxLinesPerSecond lines a second, then says once how many it dropped', () => {
    const { logged, gate: g } = gate({ maxLinesPerSecond: 5, maxLogBytes: 1e6 });
    for (let i = 0; i < 12; i++) g.log('INFO', `line ${i}`, 1000 + i);
    g.log('INFO', 'next second', 2000);
    expect(logged).toEqual([
      ...[0, 1, 2, 3, 4].map((i) => ['INFO', `line ${i}`]),
      ['WARNING', 'dropped 7 log lines: more than 5 in one second'],
      ['INFO', 'next second'],
    ]);
  });

  it('reports a second’s drops when the clock moves on, without waiting for another line', () => {
    const { logged, gate: g } = gate({ maxLinesPerSecond: 1, maxLogBytes: 1e6 });
    g.log('INFO', 'a', 0);
    g.log('INFO', 'b', 10);
    g.roll(500);
    expect(logged).toHaveLength(1);
    g.roll(1000);
    expect(logged).toEqual([
      ['INFO', 'a'],
      ['WARNING', 'dropped 1 log lines: more than 1 in one second'],
    ]);
  });

  it('stops at maxLogBytes with one warning, and counts what it dropped at the end', () => {
    const { logged, gate: g } = gate({ maxLinesPerSecond: 1000, maxLogBytes: 1024 });
    const line = 'y'.repeat(300);
    for (let i = 0; i < 10; i++) g.log('INFO', line, i);
    g.finish();
    expect(logged).toEqual([
      ['INFO', line],
      ['INFO', line],
      ['INFO', line],
      [
        'WARNING',
        expect.stringMatching(/^log limit reached \(900 of 1024 bytes logged\): further log lines are dropped/),
      ],
      ['WARNING', '7 log lines were dropped after the log limit was reached'],
    ]);
  });

  it('reports the last second’s drops at the end', () => {
    const { logged, gate: g } = gate({ maxLinesPerSecond: 1, maxLogBytes: 1e6 });
    g.log('INFO', 'a', 0);
    g.log('INFO', 'b', 0);
    g.finish();
    expect(logged.at(-1)).toEqual(['WARNING', 'dropped 1 log lines: more than 1 in one second']);
  });
});

describe('a program’s output', () => {
  function given(limits: ProgramLimits = LIMITS) {
    let now = 0;
    const seen: (['progress', number] | [LogLevel, string])[] = [];
    const output = new ProgramOutput(
      limits,
      { onProgress: (p) => seen.push(['progress', p]), onLog: (level, message) => seen.push([level, message]) },
      () => now,
    );
    return {
      seen,
      output,
      out: (text: string) => output.stdout(Buffer.from(text)),
      err: (text: string) => output.stderr(Buffer.from(text)),
      at: (ms: number) => (now = ms),
    };
  }

  it('reports progress when it changes, logs in order, and keeps the last valid result', () => {
    const { seen, output, out, err } = given();
    out('PROGRESS:10\nPROGRESS:10\nINFO: started\nRESULT:{"v":1}\n');
    err('a warning on stderr\n');
    out('RESULT:{"v":2}\nRESULT:{broken\nPROGRESS:20\n\n');
    expect(output.end()).toEqual({ result: { value: { v: 2 } }, errorTail: ['a warning on stderr'] });
    expect(seen).toEqual([
      ['progress', 10],
      ['INFO', 'started'],
      ['WARNING', 'a warning on stderr'],
      ['WARNING', expect.stringMatching(/^ignored a RESULT line that is not valid JSON/)],
      ['progress', 20],
    ]);
  });

  it('has no result when none was printed', () => {
    const { output, out } = given();
    out('INFO: nothing to say\n');
    expect(output.end()).toEqual({ errorTail: [] });
  });

  it('keeps the last ten ERROR and stderr lines for the failure message, even those the bounds dropped', () => {
    const { output, out, err } = given();
    for (let i = 0; i < 8; i++) out(`ERROR: e${i}\n`);
    out('INFO: not an error\n');
    err('Traceback (most recent call last):\n  File "x.py", line 1\nRuntimeError: boom');
    expect(output.end().errorTail).toEqual([
      'e1',
      'e2',
      'e3',
      'e4',
      'e5',
      'e6',
      'e7',
      'Traceback (most recent call last):',
      '  File "x.py", line 1',
      'RuntimeError: boom',
    ]);
  });

  it('says once that long lines are cut', () => {
    const { seen, output, out, err } = given();
    out(`INFO: ${'z'.repeat(100)}\n`);
    err(`${'w'.repeat(100)}\n`);
    output.end();
    expect(seen).toEqual([
      ['WARNING', 'a line longer than 64 bytes was cut (later long lines are cut without notice)'],
      ['INFO', 'z'.repeat(58)],
      ['WARNING', 'w'.repeat(64)],
    ]);
  });

  it('ignores a RESULT line over its bound, saying so, and keeps the earlier result', () => {
    const { seen, output, out } = given();
    out(`RESULT:1\nRESULT:[${'1,'.repeat(600)}1]\n`);
    expect(output.end().result).toEqual({ value: 1 });
    expect(seen).toEqual([['WARNING', 'ignored a RESULT line longer than 1024 bytes']]);
  });

  it('still reads progress and the result once the log budget is spent', () => {
    const { seen, output, out, at } = given({ ...LIMITS, maxLinesPerSecond: 1000 });
    for (let i = 0; i < 30; i++) out(`INFO: ${'q'.repeat(50)}\n`);
    at(5000);
    out('PROGRESS:100\nRESULT:"done"\n');
    expect(output.end().result).toEqual({ value: 'done' });
    expect(seen.filter(([level]) => level === 'INFO')).toHaveLength(20);
    expect(seen.slice(20)).toEqual([
      ['WARNING', expect.stringMatching(/^log limit reached/)],
      ['progress', 100],
      ['WARNING', '10 log lines were dropped after the log limit was reached'],
    ]);
  });

  it('reports a flood’s dropped lines on tick, once a second', () => {
    const { seen, output, out, at } = given();
    for (let i = 0; i < 100; i++) out(`INFO: ${i}\n`);
    at(999);
    output.tick();
    expect(seen).toHaveLength(5);
    at(1000);
    output.tick();
    expect(seen.at(-1)).toEqual(['WARNING', 'dropped 95 log lines: more than 5 in one second']);
  });
});
