import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { chmodSync, existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import ts from 'typescript';
import type { LogLevel } from '@runforge/contracts';
import { eventually } from '../../../../test/support/eventually';
import { declareProgramKind, loadProgramKinds, type DeclaredProgramKind } from '@runforge/submission';
import type { ProgramOutcome } from './program-outcome';
import { runProgram as runFromSources, type RunProgramOptions } from './program-process';

// Real processes, no mocks: the example program, sh and python3 one-liners, and a Node parent
// that dies. The supervisor is a Node process of its own, so these tests compile this folder
// first (as the build would, without type checks) and run that: always these sources, no build needed.

const ROOT = resolve(__dirname, '../../../..');
const EXAMPLES = join(ROOT, 'examples/programs');
/** Inside the repo, so the compiled modules find its node_modules. */
const COMPILED = join(ROOT, 'node_modules/.cache/runforge-programs-int', randomUUID(), 'programs');

async function compileThisFolder(): Promise<void> {
  await mkdir(COMPILED, { recursive: true });
  for (const name of await readdir(__dirname)) {
    if (!name.endsWith('.ts') || name.endsWith('.spec.ts')) continue;
    const { outputText } = ts.transpileModule(await readFile(join(__dirname, name), 'utf8'), {
      fileName: name,
      compilerOptions: { module: ts.ModuleKind.CommonJS, target: ts.ScriptTarget.ES2022, esModuleInterop: true },
    });
    await writeFile(join(COMPILED, name.replace(/\.ts$/, '.js')), outputText);
  }
}

let runProgram: typeof import('./program-process').runProgram;

function declare(raw: Record<string, unknown>, baseDir = EXAMPLES): DeclaredProgramKind {
  const declared = declareProgramKind('test-program', raw, baseDir);
  if (!declared.ok) throw new Error(JSON.stringify(declared.issues));
  return declared.kind;
}
const sh = (script: string, more: Record<string, unknown> = {}) => declare({ command: ['sh', '-c', script], ...more });
const python = (code: string, more: Record<string, unknown> = {}) =>
  declare({ command: ['python3', '-c', code], ...more });

/** Every group a test started: a failing test must not leave its processes behind (see afterEach). */
const groups = new Set<number>();

/** Starts a run and records what it reports; `done` resolves with the outcome. */
function start(kind: RunProgramOptions['kind'], input: unknown = {}, extra: Partial<RunProgramOptions> = {}) {
  const abort = new AbortController();
  const seen = { progress: [] as number[], logs: [] as [LogLevel, string][], pgid: undefined as number | undefined };
  const done = runProgram({
    kind,
    input,
    runId: `run-${randomUUID()}`,
    attempt: 1,
    signal: abort.signal,
    onProgress: (p) => seen.progress.push(p),
    onLog: (level, message) => seen.logs.push([level, message]),
    onSpawn: (pgid) => {
      seen.pgid = pgid;
      groups.add(pgid);
    },
    ...extra,
  });
  return { abort, seen, done };
}

/**
 * Whether a process of the group still runs: `kill(-pgid, 0)` fails with ESRCH once none is left.
 * It also reaches zombies (dead, not yet reaped by init, which here takes about a second), so on
 * Linux /proc tells those apart.
 */
function groupExists(pgid: number): boolean {
  if (!answersSignals(-pgid)) return false;
  if (!existsSync('/proc/self/stat')) return true;
  return readdirSync('/proc')
    .filter((entry) => /^\d+$/.test(entry))
    .some((pid) => {
      const stat = procStat(Number(pid));
      return stat !== undefined && stat.pgrp === pgid && stat.state !== 'Z';
    });
}

function processExists(pid: number): boolean {
  if (!answersSignals(pid)) return false;
  const stat = procStat(pid);
  return stat === undefined ? !existsSync('/proc/self/stat') : stat.state !== 'Z';
}

function answersSignals(target: number): boolean {
  try {
    process.kill(target, 0);
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ESRCH') return false;
    throw err;
  }
}

function procStat(pid: number): { state: string; pgrp: number } | undefined {
  let stat: string;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return undefined;
  }
  const [state = '', , pgrp] = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return { state, pgrp: Number(pgrp) };
}

const groupGone = (pgid: number | undefined, timeoutMs = 5_000) => {
  if (pgid === undefined) throw new Error('the program never reported its process group');
  return eventually(
    `process group ${pgid} to be gone`,
    () => Promise.resolve(groupExists(pgid)),
    (exists) => !exists,
    { timeoutMs },
  );
};

const logged = (seen: { logs: [LogLevel, string][] }, level: LogLevel, pattern: RegExp) =>
  eventually(
    `a ${level} log matching ${String(pattern)}`,
    () => Promise.resolve(seen.logs),
    (logs) => logs.some(([l, m]) => l === level && pattern.test(m)),
    { timeoutMs: 15_000 },
  );

describe('running a program', () => {
  let battery: DeclaredProgramKind;
  let echo: DeclaredProgramKind;
  let scratch: string;

  beforeAll(async () => {
    await compileThisFolder();
    ({ runProgram } = (await import(join(COMPILED, 'program-process.js'))) as typeof import('./program-process'));
    const kinds = await loadProgramKinds(join(EXAMPLES, 'kinds.yaml'));
    battery = kinds.get('battery-dp') as DeclaredProgramKind;
    echo = kinds.get('shell-echo') as DeclaredProgramKind;
  });
  afterAll(async () => {
    await rm(resolve(COMPILED, '..'), { recursive: true, force: true });
  });
  beforeEach(async () => {
    scratch = await mkdtemp(join(tmpdir(), 'runforge-programs-test-'));
  });
  afterEach(async () => {
    for (const pgid of groups) if (groupExists(pgid)) process.kill(-pgid, 'SIGKILL');
    groups.clear();
    await rm(scratch, { recursive: true, force: true });
  });

  it('runs battery_dp.py to its result, with progress rising to 100, and removes its input afterwards', async () => {
    const hours = 12;
    const { seen, done } = start(battery, { params: { hours, seed: 7, socSteps: 10 } }, { tmpDir: scratch });
    const outcome = await done;

    expect(outcome).toEqual({
      kind: 'exited',
      exitCode: 0,
      result: { revenue: expect.any(Number), schedule: expect.any(Array) },
      errorTail: [],
    });
    const result = (outcome as { result: { revenue: number; schedule: unknown[] } }).result;
    expect(result.revenue).toBeGreaterThan(0);
    expect(result.schedule).toHaveLength(hours);
    expect(seen.progress.at(-1)).toBe(100);
    expect(seen.progress.length).toBeGreaterThan(5);
    seen.progress.slice(1).forEach((p, i) => expect(p).toBeGreaterThan(seen.progress[i] as number));
    expect(seen.logs).toContainEqual(['INFO', `${hours} hours, 11 charge levels, up to 5 levels an hour`]);
    expect(await readdir(scratch)).toEqual([]);
  });

  it('gives the input on stdin and in RUNFORGE_INPUT (private), the run id and attempt, and not the worker’s environment', async () => {
    process.env.RUNFORGE_TEST_SECRET = 'worker-only';
    try {
      const input = { params: { deep: { list: [1, 'two', null] } } };
      const probe = sh(
        'echo "INFO: $RUNFORGE_RUN_ID/$RUNFORGE_ATTEMPT secret=${RUNFORGE_TEST_SECRET:-unset} mode=$(stat -c %a "$RUNFORGE_INPUT") file=$(cat "$RUNFORGE_INPUT")"; ' +
          'echo "RESULT:$(cat)"',
      );
      const { seen, done } = start(probe, input, { runId: 'run-env-1', attempt: 3 });
      expect(await done).toEqual({ kind: 'exited', exitCode: 0, result: input, errorTail: [] });
      expect(seen.logs).toEqual([['INFO', `run-env-1/3 secret=unset mode=600 file=${JSON.stringify(input)}`]]);

      const echoed = start(echo, input);
      expect(await echoed.done).toMatchObject({ kind: 'exited', exitCode: 0, result: input });
    } finally {
      delete process.env.RUNFORGE_TEST_SECRET;
    }
  });

  it('reports a Python failure with its exit code and traceback', async () => {
    const { done } = start(battery, { params: { hours: 6, fail: true } });
    const outcome = await done;
    expect(outcome).toMatchObject({ kind: 'exited', exitCode: 1 });
    const tail = (outcome as { errorTail: string[] }).errorTail;
    expect(tail).toContain('Traceback (most recent call last):');
    expect(tail.at(-1)).toBe('RuntimeError: failing on purpose at hour 2 (params.fail)');
    expect(outcome).not.toHaveProperty('result');
  });

  it('stops the program on abort, mid-run, and nothing of its process group is left', async () => {
    const { abort, seen, done } = start(battery, { params: { hours: 200, sleepSeconds: 0.05 } });
    await eventually(
      'the first progress',
      () => Promise.resolve(seen.progress.length),
      (n) => n > 0,
    );
    abort.abort();
    expect(await done).toEqual({ kind: 'killed', signal: 'SIGTERM', cause: 'aborted', errorTail: [] });
    expect(seen.progress.at(-1)).toBeLessThan(100);
    await groupGone(seen.pgid);
  });

  it('SIGKILLs a program that ignores SIGTERM once the grace period is over', async () => {
    const stubborn = sh("trap '' TERM; echo 'INFO: ready'; sleep 1000", { graceSeconds: 1 });
    const { abort, seen, done } = start(stubborn);
    await logged(seen, 'INFO', /^ready$/);
    const abortedAt = Date.now();
    abort.abort();
    expect(await done).toEqual({ kind: 'killed', signal: 'SIGKILL', cause: 'aborted', errorTail: [] });
    expect(Date.now() - abortedAt).toBeGreaterThanOrEqual(900);
    await groupGone(seen.pgid);
  });

  it('stops a program aborted while it was being started', async () => {
    const { abort, seen, done } = start(sh('sleep 1000', { graceSeconds: 1 }));
    abort.abort(); // runProgram is writing the input file: nothing is spawned yet
    let outcome: ProgramOutcome | undefined;
    void done.then((o) => (outcome = o));
    await eventually(
      'the run to end',
      () => Promise.resolve(outcome),
      (o) => o !== undefined,
      { timeoutMs: 10_000 },
    );
    expect(outcome).toMatchObject({ kind: 'killed', cause: 'aborted' });
    await groupGone(seen.pgid);
  });

  it('tells a kill it did not ask for', async () => {
    const { done } = start(sh('kill -KILL $$'));
    expect(await done).toEqual({ kind: 'killed', signal: 'SIGKILL', cause: 'external', errorTail: [] });
  });

  it('refuses to run from TypeScript sources, where no compiled supervisor sits beside it', async () => {
    const attempt = runFromSources({
      kind: sh('true'),
      input: {},
      runId: 'run-from-sources',
      attempt: 1,
      signal: new AbortController().signal,
      onProgress: () => undefined,
      onLog: () => undefined,
    });
    await expect(attempt).rejects.toMatchObject({
      code: 'PROGRAM_SUPERVISOR_MISSING',
      message: expect.stringMatching(/supervisor\.js is missing: run the compiled worker/),
    });
  });

  it('does not start when already aborted', async () => {
    const abort = new AbortController();
    abort.abort();
    const { done } = start(sh('echo "INFO: should not run"'), {}, { signal: abort.signal });
    expect(await done).toEqual({ kind: 'killed', signal: 'none', cause: 'aborted', errorTail: [] });
  });

  it('ends what the program started in the background when it exits', async () => {
    const { seen, done } = start(sh('sleep 1000 & echo "INFO: pid $!"'));
    expect(await done).toMatchObject({ kind: 'exited', exitCode: 0 });
    const pid = Number(/pid (\d+)/.exec(seen.logs.map(([, m]) => m).join('\n'))?.[1]);
    expect(pid).toBeGreaterThan(0);
    await eventually(
      `background process ${pid} to be gone`,
      () => Promise.resolve(processExists(pid)),
      (exists) => !exists,
      { timeoutMs: 5_000 },
    );
  });

  it('does not wait for ever on a process that left the group and holds the output open', async () => {
    const { seen, done } = start(sh('setsid sleep 30 & echo "INFO: pid $!"; sleep 0.5'));
    try {
      expect(await done).toMatchObject({ kind: 'exited', exitCode: 0 });
      expect(seen.logs).toContainEqual(['WARNING', expect.stringMatching(/still holds its output open/)]);
    } finally {
      const pid = Number(/pid (\d+)/.exec(seen.logs.map(([, m]) => m).join('\n'))?.[1]);
      if (pid > 0 && processExists(pid)) process.kill(pid, 'SIGKILL');
    }
  });

  describe('that cannot start', () => {
    it.each<[string, () => DeclaredProgramKind, RegExp]>([
      [
        'a program not on PATH',
        () => declare({ command: ['python9-runforge-missing', 'x.py'] }),
        /^program not found: python9-runforge-missing \(not on PATH\)$/,
      ],
      ['a missing script', () => declare({ command: ['./missing.sh'] }), /^program not found: \.\/missing\.sh$/],
      [
        'a missing working directory',
        () => declare({ command: ['sh'], cwd: '/nonexistent/runforge' }),
        /^working directory not found: \/nonexistent\/runforge$/,
      ],
      ['a directory', () => declare({ command: ['/tmp'] }), /^not executable: \/tmp$/],
    ])('%s', async (_case, kind, reason) => {
      expect(await start(kind()).done).toEqual({ kind: 'spawn-failed', reason: expect.stringMatching(reason) });
    });

    it('a script without the executable bit', async () => {
      writeFileSync(join(scratch, 'not-executable.sh'), '#!/bin/sh\necho "INFO: hi"\n');
      chmodSync(join(scratch, 'not-executable.sh'), 0o644);
      const kind = declare({ command: ['./not-executable.sh'] }, scratch);
      expect(await start(kind).done).toEqual({ kind: 'spawn-failed', reason: 'not executable: ./not-executable.sh' });
    });
  });

  describe('bounds its output', () => {
    it('drops a flood beyond maxLinesPerSecond, saying once a second how many lines it dropped', async () => {
      const lines = 20_000;
      const flood = python(`for i in range(${lines}): print(f"INFO: line {i}")\nprint('RESULT:"done"')`, {
        limits: { maxLinesPerSecond: 50 },
      });
      const startedAt = Date.now();
      const { seen, done } = start(flood);
      expect(await done).toMatchObject({ kind: 'exited', exitCode: 0, result: 'done' });
      const seconds = Math.ceil((Date.now() - startedAt) / 1000) + 1;

      const passed = seen.logs.filter(([level]) => level === 'INFO');
      const dropped = seen.logs
        .map(([, m]) => /^dropped (\d+) log lines: more than 50 in one second$/.exec(m)?.[1])
        .filter((n) => n !== undefined)
        .map(Number);
      expect(dropped.length).toBeGreaterThan(0);
      expect(dropped.length).toBeLessThanOrEqual(seconds);
      expect(passed.length).toBeLessThanOrEqual(50 * seconds);
      expect(passed.length + dropped.reduce((a, b) => a + b, 0)).toBe(lines);
    });

    it('stops logging at maxLogBytes, still reads progress and the result, and counts what it dropped', async () => {
      const chatty = python(
        "for i in range(100): print('INFO: ' + 'q' * 95)\nprint('PROGRESS:100')\nprint('RESULT:{\"ok\": true}')",
        { limits: { maxLogBytes: 1024, maxLinesPerSecond: 10_000 } },
      );
      const { seen, done } = start(chatty);
      expect(await done).toMatchObject({ kind: 'exited', exitCode: 0, result: { ok: true } });
      expect(seen.progress).toEqual([100]);
      expect(seen.logs.filter(([level]) => level === 'INFO')).toHaveLength(10);
      expect(seen.logs.filter(([level]) => level === 'WARNING').map(([, m]) => m)).toEqual([
        expect.stringMatching(/^log limit reached \(950 of 1024 bytes logged\)/),
        '90 log lines were dropped after the log limit was reached',
      ]);
    });

    it('cuts a 10 MB line without a newline to maxLineBytes', async () => {
      const spew = python("import sys\nsys.stdout.write('x' * 10_000_000)\nsys.stdout.write('\\nINFO: after\\n')");
      const { seen, done } = start(spew);
      expect(await done).toMatchObject({ kind: 'exited', exitCode: 0 });
      expect(seen.logs).toEqual([
        ['WARNING', 'a line longer than 4096 bytes was cut (later long lines are cut without notice)'],
        ['INFO', 'x'.repeat(4096)],
        ['INFO', 'after'],
      ]);
    });
  });

  it('does not outlive a worker that is SIGKILLed: the supervisor sees its lifeline close, ends the group and removes the input', async () => {
    const stubborn = sh("trap '' TERM; echo 'INFO: ready'; sleep 1000", { graceSeconds: 1 });
    const { validateParams: _, ...kind } = stubborn;
    const parent = spawn(
      process.execPath,
      [
        join(__dirname, 'fixtures', 'orphan-parent.js'),
        join(COMPILED, 'program-process.js'),
        JSON.stringify(kind),
        scratch,
      ],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    );
    let said = '';
    parent.stdout.on('data', (chunk: Buffer) => (said += chunk.toString()));
    try {
      const seen = await eventually(
        'the parent to report the program’s group and the program to be ready',
        () => Promise.resolve(said),
        (text) => /PGID \d+/.test(text) && /INFO ready/.test(text),
        { timeoutMs: 15_000 },
      );
      const pgid = Number(/PGID (\d+)/.exec(seen)?.[1]);
      groups.add(pgid);
      expect(groupExists(pgid)).toBe(true);

      expect(await readdir(scratch)).toHaveLength(1); // the run's private input folder

      parent.kill('SIGKILL');
      await groupGone(pgid, 10_000);
      expect(await readdir(scratch)).toEqual([]);
    } finally {
      parent.kill('SIGKILL');
    }
  });
});
