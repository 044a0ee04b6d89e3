import {
  outcomeOf,
  parseSupervisorReport,
  spawnFailureReason,
  type EndedSupervisor,
  type ProgramOutcome,
  type SupervisorReport,
} from './program-outcome';

const TAIL = ['RuntimeError: boom'];
const ended = (e: Partial<EndedSupervisor>): EndedSupervisor => ({
  report: undefined,
  exitCode: null,
  signal: null,
  aborted: false,
  command: ['python3', 'model.py'],
  errorTail: TAIL,
  ...e,
});

describe('how a program run ended', () => {
  it.each<[string, Partial<EndedSupervisor>, ProgramOutcome]>([
    [
      'exit 0 with a result',
      { report: { type: 'exit', code: 0 }, exitCode: 0, result: { value: { revenue: 3 } } },
      { kind: 'exited', exitCode: 0, result: { revenue: 3 }, errorTail: TAIL },
    ],
    [
      'exit 0 with a null result',
      { report: { type: 'exit', code: 0 }, exitCode: 0, result: { value: null } },
      { kind: 'exited', exitCode: 0, result: null, errorTail: TAIL },
    ],
    [
      'exit 0 without a result',
      { report: { type: 'exit', code: 0 }, exitCode: 0 },
      { kind: 'exited', exitCode: 0, errorTail: TAIL },
    ],
    [
      'a non-zero exit drops the result',
      { report: { type: 'exit', code: 2 }, exitCode: 2, result: { value: 1 } },
      { kind: 'exited', exitCode: 2, errorTail: TAIL },
    ],
    [
      'a signal after the caller aborted',
      { report: { type: 'signal', signal: 'SIGTERM' }, exitCode: 143, aborted: true },
      { kind: 'killed', signal: 'SIGTERM', cause: 'aborted', errorTail: TAIL },
    ],
    [
      'a signal nobody here sent',
      { report: { type: 'signal', signal: 'SIGKILL' }, exitCode: 137 },
      { kind: 'killed', signal: 'SIGKILL', cause: 'external', errorTail: TAIL },
    ],
    [
      'the group SIGKILLed after the grace period (no report)',
      { signal: 'SIGKILL', aborted: true },
      { kind: 'killed', signal: 'SIGKILL', cause: 'aborted', errorTail: TAIL },
    ],
    [
      'the supervisor killed by someone else',
      { signal: 'SIGKILL' },
      { kind: 'killed', signal: 'SIGKILL', cause: 'external', errorTail: TAIL },
    ],
    ['the supervisor failed before reporting', { exitCode: 125 }, { kind: 'exited', exitCode: 125, errorTail: TAIL }],
    [
      'the program is not there',
      { report: { type: 'spawn-error', code: 'ENOENT', message: 'spawn python3 ENOENT' }, exitCode: 127 },
      { kind: 'spawn-failed', reason: 'program not found: python3 (not on PATH)' },
    ],
  ])('%s', (_case, e, expected) => {
    expect(outcomeOf(ended(e))).toEqual(expected);
  });
});

describe('why a program did not start', () => {
  it.each<[string, string, string]>([
    ['python9', 'ENOENT', 'program not found: python9 (not on PATH)'],
    ['./run.sh', 'ENOENT', 'program not found: ./run.sh'],
    ['./run.sh', 'EACCES', 'not executable: ./run.sh'],
    ['/opt/x', 'E2BIG', 'cannot start /opt/x: spawn E2BIG'],
  ])('%s %s', (program, code, reason) => {
    expect(spawnFailureReason(program, code, `spawn ${code}`)).toBe(reason);
  });
});

describe('the supervisor’s report', () => {
  it.each<[string, SupervisorReport | undefined]>([
    ['{"type":"exit","code":3}\n', { type: 'exit', code: 3 }],
    ['{"type":"signal","signal":"SIGTERM"}\n', { type: 'signal', signal: 'SIGTERM' }],
    ['{"type":"spawn-error","code":"EACCES","message":"m"}\n', { type: 'spawn-error', code: 'EACCES', message: 'm' }],
    ['', undefined],
    ['{"type":"exit"}', undefined],
    ['{"type":"exit","code":"3"}', undefined],
    ['{"type":"exit","co', undefined],
    ['null', undefined],
  ])('%j', (text, expected) => {
    expect(parseSupervisorReport(text)).toEqual(expected);
  });
});
