import { extractNatsCommands, namesOf, subjectCovers, subjectsIntersect, wildcardSubject } from './nats-recipes';

const md = [
  'Run `nats stream info RUNS` or `npm start`.',
  '',
  '```bash',
  "nats stream view RUNS --subject 'runs.<runId>.>'   # history # with a hash",
  'docker compose run --rm nats-box nats consumer info WORK engine-high',
  "$ nats sub 'runs.*.completed' --headers-only | head",
  'nats consumer ls WORK       # engine-high, trials (and more)',
  'echo nats stream ls',
  '```',
  '   ```',
  '   nats stream get RUNS --last-for=runs.<id>.requested',
  '   ```',
].join('\n');

describe('reading nats recipes out of markdown', () => {
  const commands = extractNatsCommands('doc.md', md);

  it('takes inline spans and code-block lines (nats-box prefix, comments and pipes cut), nothing else', () => {
    expect(commands.map((c) => [c.line, c.text])).toEqual([
      [1, 'nats stream info RUNS'],
      [4, 'nats stream view RUNS --subject runs.<runId>.>'],
      [5, 'nats consumer info WORK engine-high'],
      [6, 'nats sub runs.*.completed --headers-only'],
      [7, 'nats consumer ls WORK'],
      [11, 'nats stream get RUNS --last-for=runs.<id>.requested'],
    ]);
  });

  it('says which streams, consumers and subjects each names', () => {
    expect(commands.map(namesOf)).toEqual([
      { names: [{ kind: 'stream', name: 'RUNS' }] },
      {
        names: [
          { kind: 'stream', name: 'RUNS' },
          { kind: 'subject', subject: 'runs.<runId>.>', stream: 'RUNS', live: false },
        ],
      },
      {
        names: [
          { kind: 'stream', name: 'WORK' },
          { kind: 'consumer', stream: 'WORK', name: 'engine-high' },
        ],
      },
      { names: [{ kind: 'subject', subject: 'runs.*.completed', live: true }] },
      {
        names: [
          { kind: 'stream', name: 'WORK' },
          { kind: 'consumer', stream: 'WORK', name: 'engine-high' },
          { kind: 'consumer', stream: 'WORK', name: 'trials' },
        ],
      },
      {
        names: [
          { kind: 'stream', name: 'RUNS' },
          { kind: 'subject', subject: 'runs.<id>.requested', stream: 'RUNS', live: false },
        ],
      },
    ]);
  });

  it('refuses a flag it does not know rather than guess what is a name', () => {
    const [cmd] = extractNatsCommands('d.md', '`nats stream view RUNS --mystery x`');
    expect(cmd && namesOf(cmd)).toEqual({ error: expect.stringContaining('unknown flag --mystery') });
  });
});

describe('subject patterns', () => {
  it('reads placeholders as any token', () => {
    expect(wildcardSubject('runs.<runId>.>')).toBe('runs.*.>');
    expect(wildcardSubject('rf_<id>.x')).toBeUndefined();
    expect(wildcardSubject('runs.>.x')).toBeUndefined();
  });

  it('intersects and covers as NATS matches', () => {
    expect(subjectsIntersect('runs.*.>', 'runs.*.completed')).toBe(true);
    expect(subjectsIntersect('runs.*', 'runs.*.completed')).toBe(false);
    expect(subjectsIntersect('runs.*.bogus', 'runs.*.completed')).toBe(false);
    expect(subjectsIntersect('work.>', 'work.runs.high')).toBe(true);
    expect(subjectCovers('t1.runs.>', 't1.runs.*.completed')).toBe(true);
    expect(subjectCovers('t1.runs.>', 't1.runs')).toBe(false);
    expect(subjectCovers('t1.work.runs.*', 't1.work.>')).toBe(false);
  });
});
