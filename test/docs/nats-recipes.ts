import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { SCHEDULE_CHANGES, type Topology } from '@runforge/contracts';

/**
 * Reads the `nats …` commands out of the operator docs and says which streams, consumers, subjects
 * and buckets they name, so a test can check every name against the topology and a live server.
 * Pure: no NATS here (see nats-recipes.int.spec.ts for the checks against a provisioned topology).
 */

/** One `nats …` command as written in a doc. */
export interface DocCommand {
  readonly file: string;
  readonly line: number;
  /** The command from `nats` on (any `docker compose run … nats-box` prefix removed, comment cut). */
  readonly text: string;
  /** The arguments after `nats`, unquoted. */
  readonly args: readonly string[];
  /** A trailing `# …` comment in a code block, if any. */
  readonly comment?: string;
}

export type DocName =
  | { readonly kind: 'stream'; readonly name: string }
  | { readonly kind: 'consumer'; readonly stream: string; readonly name: string }
  /** `live`: a core subscription (`nats sub`), which only ever sees events still being written. */
  | { readonly kind: 'subject'; readonly subject: string; readonly stream?: string; readonly live: boolean }
  | { readonly kind: 'bucket'; readonly store: 'kv' | 'object'; readonly name: string };

/** What a command names, or why it cannot be read (an unknown flag: teach the parser, or fix the doc). */
export type CommandNames = { readonly names: readonly DocName[] } | { readonly error: string };

/** `nats …`, optionally run through the compose file's nats-box (`docker compose run --rm nats-box nats …`). */
const COMMAND_RE =
  /^(?:\$\s+)?(?:docker(?:-|\s+)compose\s+(?:run|exec)\s+(?:--?[\w-]+(?:=\S+)?\s+)*nats-box\s+)?nats\s+/;

/** Flags of the NATS CLI that take a value (`--flag value` or `--flag=value`). */
const VALUE_FLAGS = new Set([
  '--subject',
  '--last-for',
  '--filter',
  '--stream',
  '--server',
  '-s',
  '--context',
  '--creds',
  '--user',
  '--password',
  '--count',
  '--since',
  '--id',
  '--seq',
  '--queue',
  '--timeout',
  '--durable',
]);
/** Of those, the ones whose value is a subject (or subject filter). */
const SUBJECT_FLAGS = new Set(['--subject', '--last-for', '--filter']);
/** Flags that take no value. */
const BOOLEAN_FLAGS = new Set([
  '--headers-only',
  '--raw',
  '--json',
  '-j',
  '--force',
  '-f',
  '--all',
  '-a',
  '--ack',
  '--no-ack',
  '--last',
  '--new',
  '--names',
  '-n',
  '--translate',
]);

/** Every `nats …` command of a markdown file: lines of code blocks, and inline code spans. */
export function extractNatsCommands(file: string, markdown: string): DocCommand[] {
  const out: DocCommand[] = [];
  let fence: string | undefined;
  markdown.split('\n').forEach((raw, i) => {
    const line = raw.trim();
    const marker = /^(`{3,}|~{3,})/.exec(line)?.[1];
    if (marker && (fence === undefined || marker.startsWith(fence))) {
      fence = fence === undefined ? marker : undefined;
      return;
    }
    if (fence !== undefined) {
      const cmd = commandOf(file, i + 1, line, true);
      if (cmd) out.push(cmd);
      return;
    }
    for (const m of raw.matchAll(/`([^`]+)`/g)) {
      const cmd = commandOf(file, i + 1, m[1] ?? '', false);
      if (cmd) out.push(cmd);
    }
  });
  return out;
}

function commandOf(file: string, line: number, source: string, inBlock: boolean): DocCommand | undefined {
  const prefix = COMMAND_RE.exec(source);
  if (!prefix) return undefined;
  const { words, comment } = shellWords(source.slice(prefix[0].length), inBlock);
  return { file, line, text: `nats ${words.join(' ')}`, args: words, ...(comment ? { comment } : {}) };
}

/**
 * Splits a command line into words as a shell would quote them; stops at an unquoted `#` (the rest
 * is the comment), `|`, `;` or `&&` (what follows is another command).
 */
function shellWords(s: string, inBlock: boolean): { words: string[]; comment?: string } {
  const words: string[] = [];
  let word: string | undefined;
  let quote: string | undefined;
  for (let i = 0; i < s.length; i++) {
    const c = s[i] ?? '';
    if (quote) {
      if (c === quote) quote = undefined;
      else word = (word ?? '') + c;
      continue;
    }
    if (c === "'" || c === '"') {
      quote = c;
      word ??= '';
    } else if (/\s/.test(c)) {
      if (word !== undefined) words.push(word);
      word = undefined;
    } else if (c === '#' && word === undefined) {
      if (inBlock) return { words, comment: s.slice(i + 1).trim() };
      break;
    } else if (c === '|' || c === ';' || (c === '&' && s[i + 1] === '&')) {
      break;
    } else {
      word = (word ?? '') + c;
    }
  }
  if (word !== undefined) words.push(word);
  return { words };
}

/** The streams, consumers, subjects and buckets a command names (default namespace, as documented). */
export function namesOf(cmd: DocCommand): CommandNames {
  const positional: string[] = [];
  const names: DocName[] = [];
  const subjects: string[] = [];
  let streamFlag: string | undefined;
  for (let i = 0; i < cmd.args.length; i++) {
    const arg = cmd.args[i] ?? '';
    if (!arg.startsWith('-') || arg === '-') {
      positional.push(arg);
      continue;
    }
    const eq = arg.indexOf('=');
    const flag = eq >= 0 ? arg.slice(0, eq) : arg;
    if (BOOLEAN_FLAGS.has(flag) && eq < 0) continue;
    if (!VALUE_FLAGS.has(flag)) {
      return { error: `unknown flag ${flag}: add it to the flags of test/docs/nats-recipes.ts, or fix the doc` };
    }
    const value = eq >= 0 ? arg.slice(eq + 1) : cmd.args[++i];
    if (value === undefined) return { error: `flag ${flag} has no value` };
    if (SUBJECT_FLAGS.has(flag)) subjects.push(value);
    if (flag === '--stream') streamFlag = value;
  }
  const [command, sub, first, second] = positional;
  switch (command) {
    case 'stream':
    case 'str':
    case 's': {
      const listing = sub === 'ls' || sub === 'list' || sub === 'report';
      if (listing) names.push(...listedNames(cmd.comment).map((name) => ({ kind: 'stream' as const, name })));
      const stream = listing ? undefined : first;
      if (!listing && stream === undefined) return { error: `nats stream ${sub ?? ''} names no stream` };
      if (stream !== undefined) names.push({ kind: 'stream', name: stream });
      if (sub === 'subjects' && second !== undefined) subjects.push(second);
      for (const subject of subjects) names.push({ kind: 'subject', subject, stream, live: false });
      return { names };
    }
    case 'consumer':
    case 'con':
    case 'c': {
      if (first === undefined) return { error: `nats consumer ${sub ?? ''} names no stream` };
      names.push({ kind: 'stream', name: first });
      if (sub === 'ls' || sub === 'list' || sub === 'report') {
        for (const name of listedNames(cmd.comment)) names.push({ kind: 'consumer', stream: first, name });
      } else if (second !== undefined) {
        names.push({ kind: 'consumer', stream: first, name: second });
      }
      for (const subject of subjects) names.push({ kind: 'subject', subject, stream: first, live: false });
      return { names };
    }
    case 'sub':
    case 'subscribe':
    case 'pub':
    case 'publish':
    case 'req':
    case 'request': {
      if (sub === undefined) return { error: `nats ${command} names no subject` };
      if (streamFlag !== undefined) names.push({ kind: 'stream', name: streamFlag });
      const live = command.startsWith('sub');
      names.push({ kind: 'subject', subject: sub, stream: streamFlag, live });
      return { names };
    }
    case 'kv':
    case 'object':
    case 'obj':
      if (first !== undefined && sub !== 'ls' && sub !== 'list') {
        names.push({ kind: 'bucket', store: command === 'kv' ? 'kv' : 'object', name: first });
      }
      return { names };
    case undefined:
      return { error: 'no command after nats' };
    default:
      // `nats server …`, `nats account info`, `nats context …`: no names of ours.
      return { names };
  }
}

/**
 * Names an `ls` recipe's comment promises (`# engine-high, engine-normal, trials`): its
 * comma-separated items that are bare names, once parenthesised remarks are dropped.
 */
function listedNames(comment: string | undefined): string[] {
  if (!comment) return [];
  return comment
    .replace(/\([^)]*\)/g, '')
    .split(',')
    .map((s) => s.trim())
    .filter((s) => /^[A-Za-z0-9_-]+$/.test(s));
}

/** A documented subject with its placeholders (`<runId>`, `<id>`, `<ns>`) read as "any token" (`*`). */
export function wildcardSubject(subject: string): string | undefined {
  const tokens = subject.split('.');
  if (tokens.some((t) => t === '' || (t.includes('<') && !/^<[^<>]+>$/.test(t)))) return undefined;
  if (tokens.slice(0, -1).includes('>')) return undefined;
  return tokens.map((t) => (/^<[^<>]+>$/.test(t) ? '*' : t)).join('.');
}

/** Some subject matches both patterns. */
export function subjectsIntersect(a: string, b: string): boolean {
  const x = a.split('.');
  const y = b.split('.');
  for (let i = 0; ; i++) {
    const p = x[i];
    const q = y[i];
    if (p === undefined || q === undefined) return p === q;
    if (p === '>' || q === '>') return true;
    if (p !== '*' && q !== '*' && p !== q) return false;
  }
}

/** Every subject `subject` matches, `filter` matches too. */
export function subjectCovers(filter: string, subject: string): boolean {
  const f = filter.split('.');
  const s = subject.split('.');
  for (let i = 0; ; i++) {
    const p = f[i];
    const q = s[i];
    if (p === undefined || q === undefined) return p === q;
    if (p === '>') return true;
    if (q === '>') return false;
    if (p === '*') continue;
    if (p !== q) return false;
  }
}

/** One concrete subject a (wildcard) pattern matches: every wildcard becomes `x`. */
export function sampleSubject(pattern: string): string {
  return pattern
    .split('.')
    .map((t) => (t === '*' || t === '>' ? 'x' : t))
    .join('.');
}

/** A subject the topology really uses, and the stream that stores it (none: core NATS only). */
export interface KnownSubject {
  readonly pattern: string;
  readonly stream?: keyof Topology['streams'];
  /** The run event token, for `runs.<runId>.<token>` subjects. */
  readonly eventToken?: string;
}

/**
 * The subjects of a topology: one per event token on RUNS, the dispatches and trial batches on WORK,
 * the schedule changes on SCHEDULES, the aborts and the trial batches' summaries.
 */
export function knownSubjects(t: Topology, eventTokens: readonly string[]): KnownSubject[] {
  return [
    ...eventTokens.map((eventToken) => ({
      pattern: t.runSubject('*', eventToken),
      stream: 'runs' as const,
      eventToken,
    })),
    { pattern: t.runDispatchSubject('high'), stream: 'work' },
    { pattern: t.runDispatchSubject('normal'), stream: 'work' },
    { pattern: t.trialWorkSubject('*'), stream: 'work' },
    ...SCHEDULE_CHANGES.map((change) => ({
      pattern: t.scheduleChangeSubject('*', change),
      stream: 'schedules' as const,
    })),
    { pattern: t.anyRunAbortSubject() },
    { pattern: t.anyRunTrialsSettledSubject() },
  ];
}

/** The docs whose recipes are checked, besides every app's README. */
export const DOCS = ['docs/operations.md', 'docs/events.md', 'docs/architecture.md', 'README.md'];

/** The docs whose recipes are checked: the operator docs, the README and every app's README (apps/<app>/README.md). */
export function documentedFiles(root: string): { file: string; text: string }[] {
  const apps = readdirSync(path.join(root, 'apps'))
    .filter((a) => existsSync(path.join(root, 'apps', a, 'README.md')))
    .sort()
    .map((a) => `apps/${a}/README.md`);
  return [...DOCS, ...apps].map((file) => ({ file, text: readFileSync(path.join(root, file), 'utf8') }));
}
