// Program kinds: a user's own program run as a managed job (README.md). Pure Node, no NATS or Nest.
export type { ProgramOutcome } from './program-outcome';
export { ProgramRunError, runProgram, supervisorScript, type RunProgramOptions } from './program-process';
