import { RunForgeClient } from '@runforge/client';

/** How `runforge` ends, for scripts: the run's ending for `watch`, else whether the command worked. */
export const EXIT = {
  /** Done; for `watch`, the run Completed. */
  ok: 0,
  /** The run Failed, or the gateway could not be reached or failed itself. */
  failed: 1,
  /** Bad input: a flag, a file, or a request the gateway refused (4xx). */
  badInput: 2,
  /** The run was Cancelled — or the watch was interrupted (Ctrl-C), the shell's convention. */
  cancelled: 130,
} as const;

export const DEFAULT_URL = 'http://localhost:3000';

/** The options every command takes. */
export interface GlobalOptions {
  url?: string;
  apiKey?: string;
  json?: boolean;
}

/** What a command works with: the client, and where its output goes. */
export interface Context {
  readonly client: RunForgeClient;
  readonly json: boolean;
  /** The result (stdout). */
  out(text: string): void;
  /** Progress and notices (stderr), so stdout stays the result for scripts. */
  note(text: string): void;
  /** A JSON document on stdout (`--json`). */
  emit(value: unknown): void;
}

export function contextOf(opts: GlobalOptions, env: NodeJS.ProcessEnv = process.env): Context {
  const url = opts.url ?? env.RUNFORGE_URL ?? DEFAULT_URL;
  const apiKey = opts.apiKey ?? env.RUNFORGE_API_KEY;
  return {
    client: new RunForgeClient({ url, apiKey: apiKey || undefined }),
    json: opts.json === true,
    out: (text) => process.stdout.write(`${text}\n`),
    note: (text) => process.stderr.write(`${text}\n`),
    emit: (value) => process.stdout.write(`${JSON.stringify(value, null, 2)}\n`),
  };
}
