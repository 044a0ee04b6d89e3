import type { LogLevel, ProgramRunRequest } from '@runforge/contracts';
import type { DeclaredProgramKind } from '@runforge/submission';
import { RunAbortedError } from './backtest.runner';
import type { RunContext } from './run-context';
import { runProgram } from '../programs';

/** A program that ended on its own without success: the run fails, with no retry (it would do the same). */
export class ProgramFailedError extends Error {
  override readonly name = 'ProgramFailedError';
  constructor(
    message: string,
    /** `EXIT_<n>`, `SIGNAL_<name>` or the spawn error's code. */
    readonly code: string,
  ) {
    super(message);
  }
}

/** The last error lines a failed program printed, for the run's error message. */
function tailOf(lines: readonly string[]): string {
  return lines.length > 0 ? `; last error output:\n${lines.join('\n')}` : '';
}

/**
 * Runs one attempt of a program kind's run: the declared command with the request's params as its
 * input, its `PROGRESS:` as `RunProgressed` (at most one per `progressIntervalMs`, and the last one
 * always), its log lines as `RunLogged` in the order printed, its `RESULT:` in `RunCompleted`.
 * Throws RunAbortedError when `signal` stopped it (cancel, timeout, stall, shutdown) and
 * ProgramFailedError when it failed on its own; the caller settles those like any run's.
 */
export async function runProgramKind(
  ctx: RunContext,
  kind: DeclaredProgramKind,
  request: ProgramRunRequest,
  signal: AbortSignal,
  progressIntervalMs: number,
  /** Runs before the run's end is recorded (throws when a newer attempt owns the run). */
  beforeEnd: () => Promise<void>,
): Promise<void> {
  const started = performance.now();
  await ctx.emit('RunStarted', { workerId: ctx.workerId, totalBars: 0 });
  await ctx.log('INFO', `program ${kind.name} started: ${kind.command.join(' ')}`, { attempt: ctx.attempt });

  // The callbacks are synchronous; their events go out in order through one chain.
  let chain: Promise<void> = Promise.resolve();
  let publishError: unknown;
  const enqueue = (publish: () => Promise<void>): void => {
    chain = chain.then(publish).catch((err: unknown) => {
      publishError ??= err;
    });
  };
  let lastPercent = -1;
  let reportedPercent = -1;
  let lastReportAt = Number.NEGATIVE_INFINITY;
  const report = (): void => {
    if (lastPercent === reportedPercent) return;
    reportedPercent = lastPercent;
    lastReportAt = performance.now();
    const percent = lastPercent;
    enqueue(() => ctx.emit('RunProgressed', { percent }));
  };
  const outcome = await runProgram({
    kind,
    input: { kind: kind.name, params: request.params },
    runId: ctx.runId,
    attempt: ctx.attempt,
    signal,
    onProgress: (percent) => {
      lastPercent = percent;
      ctx.touch();
      if (performance.now() - lastReportAt >= progressIntervalMs) report();
    },
    onLog: (level: LogLevel, message: string) => enqueue(() => ctx.log(level, message)),
    onOutput: () => ctx.touch(),
  });
  report();
  await chain;
  if (publishError !== undefined)
    throw publishError instanceof Error
      ? publishError
      : new Error("could not record the program's output", { cause: publishError });

  switch (outcome.kind) {
    case 'exited': {
      if (outcome.exitCode !== 0) {
        throw new ProgramFailedError(
          `program ${kind.name} exited with code ${outcome.exitCode}${tailOf(outcome.errorTail)}`,
          `EXIT_${outcome.exitCode}`,
        );
      }
      await beforeEnd();
      const durationMs = performance.now() - started;
      await ctx.log('INFO', `program ${kind.name} completed in ${durationMs.toFixed(0)} ms`);
      await ctx.emit('RunCompleted', { durationMs, result: { output: outcome.result ?? null } });
      return;
    }
    case 'killed':
      if (outcome.cause === 'aborted') throw new RunAbortedError();
      throw new ProgramFailedError(
        `program ${kind.name} was killed by ${outcome.signal}${tailOf(outcome.errorTail)}`,
        `SIGNAL_${outcome.signal}`,
      );
    case 'spawn-failed':
      throw new ProgramFailedError(`program ${kind.name} could not start: ${outcome.reason}`, 'SPAWN_FAILED');
    default: {
      const never: never = outcome;
      throw new Error(`unexpected program outcome ${JSON.stringify(never)}`);
    }
  }
}
