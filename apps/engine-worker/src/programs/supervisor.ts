import { spawn } from 'node:child_process';
import { closeSync, openSync, readFileSync, rmdirSync, rmSync, writeSync } from 'node:fs';
import { constants } from 'node:os';
import { dirname } from 'node:path';
import { parseArgs } from 'node:util';
import type { SupervisorReport } from './program-outcome';

/**
 * Runs one program for the worker, as its own Node process (`runProgram` starts it):
 *
 *   node supervisor.js --grace-ms=<ms> --stdin=<input file> -- <command...>
 *
 * It must lead its own process group (the worker spawns it detached); the program joins that
 * group, so one signal to the group reaches the program and everything it started.
 * - fd 0 is the worker's lifeline: the worker holds it open and never writes. EOF means the worker
 *   is gone (even SIGKILLed), so the group gets SIGTERM, then SIGKILL after the grace period —
 *   the program does not outlive its worker — and the input file is removed.
 * - fds 1 and 2 are handed to the program as they are: its output goes straight to the worker.
 * - fd 3 carries one JSON line (`SupervisorReport`) saying how the program ended; the exit code
 *   mirrors it (128 + n for signal n, 127/126 when the program could not start).
 */

const REPORT_FD = 3;

function main(): void {
  const { values, positionals } = parseArgs({
    options: { 'grace-ms': { type: 'string' }, stdin: { type: 'string' } },
    allowPositionals: true,
  });
  const graceMs = Number(values['grace-ms']);
  const [program, ...args] = positionals;
  if (program === undefined || values.stdin === undefined || !(graceMs >= 0)) {
    fail('usage: supervisor --grace-ms=<ms> --stdin=<file> -- <command...>');
  }
  if (!leadsOwnGroup()) fail('must lead its own process group (spawn it detached)');

  // The group's SIGTERM is meant for the program: this process stays to report how it ended.
  process.on('SIGTERM', () => undefined);

  const inputFile = values.stdin;
  const stdin = openSync(inputFile, 'r');
  // fd 3 is not close-on-exec here: give the program /dev/null there, not the report channel.
  const nothing = openSync('/dev/null', 'r+');
  const child = spawn(program, args, { stdio: [stdin, 'inherit', 'inherit', nothing] });
  closeSync(stdin);
  closeSync(nothing);

  let workerGone = false;
  let ended = false;
  const end = (report: SupervisorReport, exitCode: number): void => {
    if (ended) return;
    ended = true;
    // Nobody is left to read the report: clean up and end the group, this process included.
    if (workerGone) finishAlone(inputFile);
    writeReport(report);
    process.exit(exitCode);
  };

  child.on('error', (err: NodeJS.ErrnoException) => {
    // 'error' also fires for a failed kill; only a failed start has no pid.
    if (child.pid !== undefined) return;
    const code = err.code ?? 'UNKNOWN';
    end({ type: 'spawn-error', code, message: err.message }, code === 'ENOENT' ? 127 : 126);
  });
  child.on('exit', (code, signal) => {
    if (signal !== null) end({ type: 'signal', signal }, 128 + (constants.signals[signal] ?? 0));
    else end({ type: 'exit', code: code ?? 0 }, code ?? 0);
  });

  const onWorkerGone = (): void => {
    if (workerGone) return;
    workerGone = true;
    signalGroup('SIGTERM');
    setTimeout(() => finishAlone(inputFile), graceMs);
  };
  process.stdin.on('end', onWorkerGone);
  process.stdin.on('close', onWorkerGone);
  process.stdin.on('error', onWorkerGone);
  process.stdin.resume();
}

/** The worker is gone: remove the input as it would have (it may hold anything a job is given), then end the group. */
function finishAlone(inputFile: string): void {
  rmSync(inputFile, { force: true });
  try {
    rmdirSync(dirname(inputFile)); // the worker's private folder for this run, if now empty
  } catch {
    // not empty, or gone already
  }
  signalGroup('SIGKILL'); // this process included
}

function signalGroup(signal: NodeJS.Signals): void {
  try {
    process.kill(-process.pid, signal);
  } catch {
    // ESRCH: nothing left in the group.
  }
}

function writeReport(report: SupervisorReport): void {
  try {
    // Synchronous: the process exits right after.
    writeSync(REPORT_FD, `${JSON.stringify(report)}\n`);
  } catch {
    // The worker is gone: nobody reads it.
  }
}

/**
 * Killing `-pid` of a process that does not lead its group would signal the process group it
 * was born in (the worker's own, or a test runner's). Linux says in /proc; elsewhere, trust the caller.
 */
function leadsOwnGroup(): boolean {
  let stat: string;
  try {
    stat = readFileSync('/proc/self/stat', 'utf8');
  } catch {
    return true;
  }
  // "pid (comm) state ppid pgrp …": comm may hold spaces and parentheses, so read after the last ')'.
  const pgrp = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[2]);
  return pgrp === process.pid;
}

function fail(message: string): never {
  process.stderr.write(`runforge supervisor: ${message}\n`);
  process.exit(125);
}

if (require.main === module) main();
