import { delimiter, join, resolve } from 'node:path';
import { stringify } from 'yaml';
import {
  loadProgramKinds,
  parseProgramKinds,
  ProgramKindsConfigError,
  type DeclaredProgramKind,
  type ProgramKinds,
} from './program-kinds';

const FILE = '/etc/runforge/kinds.yaml';
const EXAMPLES = resolve(__dirname, '../../../examples/programs');

function issuesOf(text: string): readonly { field: string; reason: string }[] {
  try {
    parseProgramKinds(text, FILE);
  } catch (err) {
    if (err instanceof ProgramKindsConfigError) return err.issues;
    throw err;
  }
  throw new Error('expected the config to be refused');
}

const withKind = (name: string, kind: unknown): string => stringify({ kinds: { [name]: kind } });
const minimal = { command: ['python3', 'run.py'] };

function only(kinds: ProgramKinds, name: string): DeclaredProgramKind {
  const kind = kinds.get(name);
  if (!kind) throw new Error(`kind ${name} missing`);
  return kind;
}

describe('program kinds config', () => {
  describe('given a declaration that breaks a rule, it is refused naming the kind and the field', () => {
    it.each<[string, string, unknown, string, RegExp | string]>([
      ['empty command', 'battery-dp', { command: [] }, 'kinds.battery-dp.command', 'expected a non-empty array'],
      [
        'command as a string',
        'battery-dp',
        { command: 'python3 run.py' },
        'kinds.battery-dp.command',
        'expected a non-empty array',
      ],
      ['no command', 'battery-dp', {}, 'kinds.battery-dp.command', 'expected a non-empty array'],
      ['an empty argument', 'k1', { command: ['python3', ''] }, 'kinds.k1.command.1', 'expected a non-empty string'],
      ['a name with capitals', 'Battery', minimal, 'kinds.Battery', /must match/],
      ['a one-letter name', 'b', minimal, 'kinds.b', /must match/],
      ['a built-in name', 'backtest', minimal, 'kinds.backtest', /built-in/],
      ['an energy model name', 'dmo', minimal, 'kinds.dmo', /built-in/],
      ['a misspelt field', 'k1', { ...minimal, timeoutSecond: 5 }, 'kinds.k1.timeoutSecond', 'unknown field'],
      ['a zero timeout', 'k1', { ...minimal, timeoutSeconds: 0 }, 'kinds.k1.timeoutSeconds', /1/],
      ['negative retries', 'k1', { ...minimal, maxRetries: -1 }, 'kinds.k1.maxRetries', /0/],
      ['a retry flag as text', 'k1', { ...minimal, retryOnTimeout: 'yes' }, 'kinds.k1.retryOnTimeout', /boolean/],
      [
        'an unknown JSON Schema type',
        'k1',
        { ...minimal, params: { type: 'objekt' } },
        'kinds.k1.params',
        /not a valid JSON Schema/,
      ],
      [
        'a misspelt JSON Schema keyword',
        'k1',
        { ...minimal, params: { type: 'integer', minimun: 1 } },
        'kinds.k1.params',
        /minimun/,
      ],
      [
        'a required name not among the properties',
        'k1',
        { ...minimal, params: { type: 'object', properties: {}, required: ['horizon'] } },
        'kinds.k1.params',
        /horizon/,
      ],
      ['params that are not a schema', 'k1', { ...minimal, params: 'object' }, 'kinds.k1.params', /JSON Schema object/],
      ['a number in env', 'k1', { ...minimal, env: { THREADS: 4 } }, 'kinds.k1.env.THREADS', /expected a string/],
      [
        'a RUNFORGE_ variable in env',
        'k1',
        { ...minimal, env: { RUNFORGE_INPUT: 'x' } },
        'kinds.k1.env.RUNFORGE_INPUT',
        /set by the worker/,
      ],
      ['a bad variable name', 'k1', { ...minimal, env: { 'A-B': 'x' } }, 'kinds.k1.env.A-B', /variable name/],
      [
        'a weekly window',
        'k1',
        { ...minimal, maxRunsPerWindow: { count: 1, window: 'week' } },
        'kinds.k1.maxRunsPerWindow.window',
        /day|hour/,
      ],
      [
        'an unknown time zone',
        'k1',
        { ...minimal, maxRunsPerWindow: { count: 1, window: 'day', timeZone: 'Mars/Olympus' } },
        'kinds.k1.maxRunsPerWindow.timeZone',
        /time zone/,
      ],
      [
        'a zero count',
        'k1',
        { ...minimal, maxRunsPerWindow: { count: 0, window: 'day' } },
        'kinds.k1.maxRunsPerWindow.count',
        /1/,
      ],
      ['a tiny line bound', 'k1', { ...minimal, limits: { maxLineBytes: 10 } }, 'kinds.k1.limits.maxLineBytes', /64/],
      ['an unknown limit', 'k1', { ...minimal, limits: { maxLines: 10 } }, 'kinds.k1.limits.maxLines', 'unknown field'],
    ])('%s', (_case, name, kind, field, reason) => {
      const issues = issuesOf(withKind(name, kind));
      expect(issues).toContainEqual({
        field,
        reason: typeof reason === 'string' ? reason : expect.stringMatching(reason),
      });
    });

    it.each<[string, string, RegExp]>([
      ['no kinds map', 'workers: {}', /^kinds$|workers/],
      ['kinds as a list', 'kinds: [a, b]', /map of kind name/],
      ['broken YAML', 'kinds: { a: [1, 2 }', /not valid YAML\/JSON/],
      [
        'a kind declared twice',
        'kinds:\n  k1: { command: [a] }\n  k1: { command: [b] }\n',
        /unique at line 3, column 3$/,
      ],
      ['broken JSON', '{"kinds": {"k1": {"command": ["a"]}', /not valid YAML\/JSON/],
      ['an empty file', '', /^kinds expected a map of kind name/],
    ])('the whole file: %s', (_case, text, reason) => {
      const issues = issuesOf(text);
      expect(issues.map((i) => `${i.field} ${i.reason}`).join('\n')).toMatch(reason);
    });

    it('reports every broken kind at once, in an error naming the file', () => {
      const text = stringify({
        kinds: { good: minimal, 'bad-one': { command: [] }, 'bad-two': { ...minimal, cwd: '' } },
      });
      let error: unknown;
      try {
        parseProgramKinds(text, FILE);
      } catch (err) {
        error = err;
      }
      expect(error).toBeInstanceOf(ProgramKindsConfigError);
      const e = error as ProgramKindsConfigError;
      expect(e.code).toBe('PROGRAM_KINDS_INVALID');
      expect(e.issues.map((i) => i.field)).toEqual(['kinds.bad-one.command', 'kinds.bad-two.cwd']);
      expect(e.message).toMatch(/^\/etc\/runforge\/kinds\.yaml: kinds\.bad-one\.command: expected a non-empty array; /);
    });
  });

  describe('given a valid declaration', () => {
    it('fills the defaults', () => {
      const kind = only(parseProgramKinds(withKind('battery-dp', minimal), FILE), 'battery-dp');
      expect(kind).toMatchObject({
        name: 'battery-dp',
        command: ['python3', 'run.py'],
        cwd: '/etc/runforge',
        timeoutSeconds: 3600,
        heartbeatSeconds: 2,
        maxRetries: 0,
        retryOnTimeout: false,
        graceSeconds: 5,
        env: {},
        limits: { maxLineBytes: 4096, maxLinesPerSecond: 200, maxLogBytes: 1024 * 1024, maxResultBytes: 256 * 1024 },
      });
      expect(kind.stallSeconds).toBeUndefined();
      expect(kind.paramsSchema).toBeUndefined();
      expect(kind.validateParams({ anything: 1 })).toEqual([]);
    });

    it('keeps what is declared, and resolves a relative cwd against the file’s folder', () => {
      const kind = only(
        parseProgramKinds(
          withKind('k1', {
            ...minimal,
            cwd: '../models',
            timeoutSeconds: 60,
            stallSeconds: 30,
            retryOnTimeout: true,
            env: { OMP_NUM_THREADS: '1' },
            maxRunsPerWindow: { count: 1, window: 'day', timeZone: 'Europe/Berlin' },
            limits: { maxLinesPerSecond: 10 },
          }),
          FILE,
        ),
        'k1',
      );
      expect(kind).toMatchObject({
        cwd: '/etc/models',
        timeoutSeconds: 60,
        stallSeconds: 30,
        retryOnTimeout: true,
        env: { OMP_NUM_THREADS: '1' },
        maxRunsPerWindow: { count: 1, window: 'day', timeZone: 'Europe/Berlin' },
        limits: { maxLineBytes: 4096, maxLinesPerSecond: 10 },
      });
    });

    it('reads JSON as well as YAML', () => {
      const kinds = parseProgramKinds(JSON.stringify({ kinds: { k1: { command: ['a'], cwd: '/opt/k1' } } }), FILE);
      expect(only(kinds, 'k1').cwd).toBe('/opt/k1');
    });

    it('loads the example file', async () => {
      const kinds = await loadProgramKinds(join(EXAMPLES, 'kinds.yaml'));
      expect([...kinds.keys()]).toEqual(['battery-dp', 'shell-echo', 'daily-report']);
      expect(only(kinds, 'battery-dp')).toMatchObject({ cwd: EXAMPLES, command: ['python3', 'battery_dp.py'] });
    });

    it('loads several files separated by the path delimiter, their kinds together', async () => {
      const fixtures = resolve(__dirname, '../../../test/fixtures');
      const kinds = await loadProgramKinds(
        `${join(EXAMPLES, 'kinds.yaml')}${delimiter}${join(fixtures, 'program-kinds.yaml')}`,
      );
      expect([...kinds.keys()]).toEqual([
        'battery-dp',
        'shell-echo',
        'daily-report',
        'test-missing',
        'test-not-executable',
        'test-silent',
        'test-slow',
        'test-slow-retryable',
        'test-garbage',
        'test-once-a-day',
      ]);
      expect(only(kinds, 'test-silent').cwd).toBe(fixtures);
    });

    it('refuses a kind declared in two files, naming the file that declared it first', async () => {
      const file = join(EXAMPLES, 'kinds.yaml');
      await expect(loadProgramKinds(`${file}${delimiter}${file}`)).rejects.toMatchObject({
        code: 'PROGRAM_KINDS_INVALID',
        issues: [{ field: 'kinds.battery-dp', reason: `already declared in ${file}` }],
      });
    });

    it('refuses a file it cannot read, naming it', async () => {
      await expect(loadProgramKinds('/nonexistent/kinds.yaml')).rejects.toMatchObject({
        code: 'PROGRAM_KINDS_UNREADABLE',
        message: expect.stringMatching(/^\/nonexistent\/kinds\.yaml: .*ENOENT/),
      });
    });
  });

  describe('params are checked against the kind’s JSON Schema', () => {
    const kind = only(
      parseProgramKinds(
        withKind('k1', {
          ...minimal,
          params: {
            type: 'object',
            additionalProperties: false,
            required: ['horizon'],
            properties: {
              horizon: { type: 'integer', minimum: 1 },
              prices: { type: 'array', items: { type: 'number' } },
              'a/b': { type: 'string' },
            },
          },
        }),
        FILE,
      ),
      'k1',
    );

    it.each<[string, unknown, { field: string; reason: string }[]]>([
      ['fitting params', { horizon: 24, prices: [1, 2] }, []],
      ['a value below its minimum', { horizon: 0 }, [{ field: 'params.horizon', reason: 'must be >= 1' }]],
      ['a missing field', {}, [{ field: 'params.horizon', reason: 'is required' }]],
      ['an unknown field', { horizon: 1, horizn: 2 }, [{ field: 'params.horizn', reason: 'unknown field' }]],
      ['a bad array item', { horizon: 1, prices: [1, 'x'] }, [{ field: 'params.prices.1', reason: 'must be number' }]],
      ['a key with a slash', { horizon: 1, 'a/b': 3 }, [{ field: 'params.a/b', reason: 'must be string' }]],
      ['not an object', 'horizon=1', [{ field: 'params', reason: 'must be object' }]],
    ])('%s', (_case, params, expected) => {
      expect(kind.validateParams(params)).toEqual(expected);
    });

    it('exposes the schema it checks against', () => {
      expect(kind.paramsSchema).toMatchObject({ type: 'object', required: ['horizon'] });
    });
  });
});
