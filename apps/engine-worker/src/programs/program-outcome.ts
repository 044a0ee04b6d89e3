/** How a program run ended, decided from what the supervisor reported and how it exited itself. */

export type ProgramOutcome =
  | {
      readonly kind: 'exited';
      readonly exitCode: number;
      /** The last valid `RESULT:` value, when the program exited 0 and printed one. */
      readonly result?: unknown;
      readonly errorTail: string[];
    }
  | {
      readonly kind: 'killed';
      /** `'none'` when the signal was aborted before the program started. */
      readonly signal: string;
      /** `aborted`: the caller's signal asked for it; `external`: something else killed the program. */
      readonly cause: 'aborted' | 'external';
      readonly errorTail: string[];
    }
  | { readonly kind: 'spawn-failed'; readonly reason: string };

/** The one line the supervisor writes on its report fd before it exits. */
export type SupervisorReport =
  | { readonly type: 'exit'; readonly code: number }
  | { readonly type: 'signal'; readonly signal: string }
  | { readonly type: 'spawn-error'; readonly code: string; readonly message: string };

export function parseSupervisorReport(text: string): SupervisorReport | undefined {
  const line = text.split('\n', 1)[0] ?? '';
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch {
    return undefined;
  }
  if (typeof value !== 'object' || value === null) return undefined;
  const r = value as Record<string, unknown>;
  if (r.type === 'exit' && typeof r.code === 'number') return { type: 'exit', code: r.code };
  if (r.type === 'signal' && typeof r.signal === 'string') return { type: 'signal', signal: r.signal };
  if (r.type === 'spawn-error' && typeof r.code === 'string' && typeof r.message === 'string') {
    return { type: 'spawn-error', code: r.code, message: r.message };
  }
  return undefined;
}

export interface EndedSupervisor {
  /** Its report, if it lived to write one. */
  readonly report: SupervisorReport | undefined;
  /** How the supervisor process itself ended. */
  readonly exitCode: number | null;
  readonly signal: string | null;
  /** The caller's signal was aborted while the program ran. */
  readonly aborted: boolean;
  readonly command: readonly string[];
  readonly result?: { readonly value: unknown };
  readonly errorTail: string[];
}

export function outcomeOf(ended: EndedSupervisor): ProgramOutcome {
  const { report, errorTail } = ended;
  const cause = ended.aborted ? 'aborted' : 'external';
  if (report === undefined) {
    // Killed along with its group (the grace ran out) or crashed before reporting (its stderr is in the tail).
    if (ended.signal !== null) return { kind: 'killed', signal: ended.signal, cause, errorTail };
    return { kind: 'exited', exitCode: ended.exitCode ?? -1, errorTail };
  }
  switch (report.type) {
    case 'spawn-error':
      return { kind: 'spawn-failed', reason: spawnFailureReason(ended.command[0] ?? '', report.code, report.message) };
    case 'signal':
      return { kind: 'killed', signal: report.signal, cause, errorTail };
    case 'exit':
      return report.code === 0 && ended.result
        ? { kind: 'exited', exitCode: 0, result: ended.result.value, errorTail }
        : { kind: 'exited', exitCode: report.code, errorTail };
    default: {
      const never: never = report;
      throw new Error(`unhandled supervisor report ${JSON.stringify(never)}`);
    }
  }
}

export function spawnFailureReason(program: string, code: string, message: string): string {
  const where = program.includes('/') ? '' : ' (not on PATH)';
  switch (code) {
    case 'ENOENT':
      return `program not found: ${program}${where}`;
    case 'EACCES':
      return `not executable: ${program}`;
    default:
      return `cannot start ${program}: ${message}`;
  }
}
