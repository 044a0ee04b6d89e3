import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import type { LogLevel } from '@runforge/contracts';
import type { DeclaredProgramKind } from '@runforge/submission';
import { outcomeOf, parseSupervisorReport, type ProgramOutcome } from './program-outcome';
import { ProgramOutput } from './program-output';

export interface RunProgramOptions {
  /** What `runProgram` reads of a declared kind. */
  readonly kind: Pick<DeclaredProgramKind, 'command' | 'cwd' | 'env' | 'graceSeconds' | 'limits'>;
  /** Given to the program as JSON, on stdin and in the file named by `RUNFORGE_INPUT`. */
  readonly input: unknown;
  readonly runId: string;
  readonly attempt: number;
  /** Abort to stop the program: SIGTERM to its process group, SIGKILL after the kind's grace period. */
  readonly signal: AbortSignal;
  /** Each distinct `PROGRESS:` value, clamped to 0–100. The callbacks must not throw. */
  readonly onProgress: (percent: number) => void;
  /** The program's log lines, bounded by the kind's limits, and the bounds' own warnings. */
  readonly onLog: (level: LogLevel, message: string) => void;
  /** Whenever output arrives, on stdout or stderr (the stall clock). */
  readonly onOutput?: () => void;
  /** The program's process group id, once it started (the supervisor's pid: it leads the group). */
  readonly onSpawn?: (pgid: number) => void;
  /** Where the private input folder goes (default: the OS temp folder). */
  readonly tmpDir?: string;
}

export class ProgramRunError extends Error {
  override readonly name = 'ProgramRunError';
  constructor(
    readonly code: 'PROGRAM_SUPERVISOR_MISSING',
    message: string,
  ) {
    super(message);
  }
}

/**
 * Runs a declared program to its end through the supervisor (`supervisor.ts`), which keeps it
 * from outliving this process. Resolves with how it ended; rejects only on a broken setup.
 */
export async function runProgram(opts: RunProgramOptions): Promise<ProgramOutcome> {
  if (opts.signal.aborted) return { kind: 'killed', signal: 'none', cause: 'aborted', errorTail: [] };
  const supervisor = supervisorScript();
  const folder = await stat(opts.kind.cwd).catch(() => undefined);
  if (!folder?.isDirectory()) return { kind: 'spawn-failed', reason: `working directory not found: ${opts.kind.cwd}` };

  const dir = await mkdtemp(join(opts.tmpDir ?? tmpdir(), 'runforge-program-'));
  try {
    const inputFile = join(dir, 'input.json');
    await writeFile(inputFile, JSON.stringify(opts.input ?? null), { mode: 0o600 });
    return await supervise(opts, supervisor, inputFile);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** The supervisor runs as its own Node process, from the JavaScript compiled beside this module. */
export function supervisorScript(): string {
  const script = join(__dirname, 'supervisor.js');
  if (existsSync(script)) return script;
  throw new ProgramRunError(
    'PROGRAM_SUPERVISOR_MISSING',
    `${script} is missing: run the compiled worker (npm run build), not its TypeScript sources`,
  );
}

/** The worker's own variables (credentials among them) are not the program's business: only these pass. */
const PASSED_THROUGH = ['PATH', 'HOME', 'USER', 'LOGNAME', 'SHELL', 'LANG', 'LC_ALL', 'LC_CTYPE', 'TZ', 'TMPDIR'];

function programEnv(opts: RunProgramOptions, inputFile: string): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { PYTHONUNBUFFERED: '1' }; // or Python holds PROGRESS lines back in a pipe
  for (const name of PASSED_THROUGH) if (process.env[name] !== undefined) env[name] = process.env[name];
  return {
    ...env,
    ...opts.kind.env,
    RUNFORGE_INPUT: inputFile,
    RUNFORGE_RUN_ID: opts.runId,
    RUNFORGE_ATTEMPT: String(opts.attempt),
  };
}

const REPORT_MAX_CHARS = 4096;
const TICK_MS = 1000;
/** How long the output may stay open after the supervisor exited. */
const OUTPUT_CLOSE_MS = 2000;

function supervise(opts: RunProgramOptions, supervisor: string, inputFile: string): Promise<ProgramOutcome> {
  const { kind, signal } = opts;
  const graceMs = Math.round(kind.graceSeconds * 1000);
  const output = new ProgramOutput(kind.limits, { onProgress: opts.onProgress, onLog: opts.onLog }, () =>
    performance.now(),
  );
  return new Promise((resolve) => {
    let child: ChildProcess;
    try {
      child = spawn(
        process.execPath,
        [supervisor, `--grace-ms=${graceMs}`, `--stdin=${inputFile}`, '--', ...kind.command],
        {
          cwd: kind.cwd,
          env: programEnv(opts, inputFile),
          detached: true, // its own process group, which the program joins
          stdio: ['pipe', 'pipe', 'pipe', 'pipe'],
        },
      );
    } catch (err) {
      resolve({ kind: 'spawn-failed', reason: `cannot start the supervisor: ${(err as Error).message}` });
      return;
    }
    const pgid = child.pid;
    let aborted = false;
    let report = '';
    let killTimer: NodeJS.Timeout | undefined;
    let closeTimer: NodeJS.Timeout | undefined;
    const ticker = setInterval(() => output.tick(), TICK_MS);

    const signalGroup = (sig: NodeJS.Signals): void => {
      if (pgid === undefined) return;
      try {
        process.kill(-pgid, sig);
      } catch {
        // ESRCH: the group is gone already.
      }
    };
    const onAbort = (): void => {
      aborted = true;
      signalGroup('SIGTERM');
      killTimer = setTimeout(() => signalGroup('SIGKILL'), graceMs);
    };
    const finish = (outcome: ProgramOutcome): void => {
      clearInterval(ticker);
      clearTimeout(killTimer);
      clearTimeout(closeTimer);
      signal.removeEventListener('abort', onAbort);
      child.stdin?.destroy();
      resolve(outcome);
    };

    // The lifeline (stdin) is held open and never written: the supervisor reads its EOF as this
    // process's death. A broken pipe on any of them shows in how the supervisor ended.
    for (const stream of child.stdio) stream?.on('error', () => undefined);
    child.stdout?.on('data', (chunk: Buffer) => {
      opts.onOutput?.();
      output.stdout(chunk);
    });
    child.stderr?.on('data', (chunk: Buffer) => {
      opts.onOutput?.();
      output.stderr(chunk);
    });
    const reports = child.stdio[3] as Readable;
    reports.setEncoding('utf8');
    reports.on('data', (text: string) => {
      if (report.length < REPORT_MAX_CHARS) report += text;
    });

    child.once('spawn', () => {
      if (pgid !== undefined) opts.onSpawn?.(pgid);
    });
    child.on('error', (err) => {
      if (pgid !== undefined) return; // not a failed start
      finish({ kind: 'spawn-failed', reason: `cannot start the supervisor: ${err.message}` });
    });
    // What the program started and left behind dies with it; the output pipes then close. A process
    // that left the group (setsid) may still hold them: stop reading after a moment.
    child.once('exit', () => {
      signalGroup('SIGKILL');
      closeTimer = setTimeout(() => {
        opts.onLog('WARNING', 'a process the program started still holds its output open: no longer reading it');
        for (const stream of child.stdio) stream?.destroy();
      }, OUTPUT_CLOSE_MS);
    });
    child.once('close', (exitCode: number | null, exitSignal: NodeJS.Signals | null) => {
      if (pgid === undefined) return;
      const { result, errorTail } = output.end();
      finish(
        outcomeOf({
          report: parseSupervisorReport(report),
          exitCode,
          signal: exitSignal,
          aborted,
          command: kind.command,
          errorTail,
          ...(result ? { result } : {}),
        }),
      );
    });
    signal.addEventListener('abort', onAbort, { once: true });
    if (signal.aborted) onAbort(); // while the input was being written
  });
}
