// Program kinds: a user's own program run as a managed job (README.md). Pure Node, no NATS or Nest.
export {
  BUILT_IN_KIND_NAMES,
  declareProgramKind,
  loadProgramKinds,
  parseProgramKinds,
  PROGRAM_KIND_NAME,
  ProgramKindsConfigError,
  type DeclaredProgramKind,
  type ProgramKinds,
  type ProgramLimits,
} from './program-kinds.config';
export type { ProgramOutcome } from './program-outcome';
export { ProgramRunError, runProgram, supervisorScript, type RunProgramOptions } from './program-process';
