import { readFileSync } from 'node:fs';
import {
  LOG_LEVELS,
  progressOf,
  type LogLevel,
  type RunHistoryEvent,
  type RunStatus,
  type RunLogLine,
  type TrialSort,
} from '@runforge/client';

import { EXIT, type Context } from '../context';
import { FlagError, requestFromFlags, sinceToInstant, type SubmitFlags } from '../request';
import { logLine, paramsText, runDetails } from '../render/run';
import { ago, count, instant, shortMillis, table, truncate } from '../render/text';
import { watchRun } from './watch';

/** A JSON file's object (`-` reads stdin). */
export function readJsonFile(flag: string, file: string): Record<string, unknown> {
  let text: string;
  try {
    text = readFileSync(file === '-' ? 0 : file, 'utf8');
  } catch (err) {
    throw new FlagError(flag, `cannot read ${file}: ${(err as Error).message}`);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (err) {
    throw new FlagError(flag, `${file} is not JSON: ${(err as Error).message}`);
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed))
    throw new FlagError(flag, `${file} must hold a JSON object`);
  return parsed as Record<string, unknown>;
}

export interface SubmitOptions extends SubmitFlags {
  file?: string;
  watch?: boolean;
  idempotencyKey?: string;
}

export async function submit(ctx: Context, kind: string, opts: SubmitOptions): Promise<number> {
  const base = opts.file ? readJsonFile('--file', opts.file) : {};
  const request = requestFromFlags(opts, base);
  delete request.kind;
  const accepted = await ctx.client.submit(kind, request, { idempotencyKey: opts.idempotencyKey });
  if (ctx.json) process.stdout.write(`${JSON.stringify(accepted)}\n`);
  else ctx.out(accepted.id);
  return opts.watch ? watchRun(ctx, accepted.id) : EXIT.ok;
}

export async function cancel(ctx: Context, id: string): Promise<number> {
  const answer = await ctx.client.cancel(id);
  if (ctx.json) ctx.emit(answer);
  else ctx.out(answer.status === 'Cancelled' ? `${id} cancelled` : `${id} cancelling: ${answer.message}`);
  return EXIT.ok;
}

export async function retry(ctx: Context, id: string): Promise<number> {
  const answer = await ctx.client.retry(id);
  if (ctx.json) ctx.emit(answer);
  else ctx.out(answer.id);
  return EXIT.ok;
}

export interface ListOptions {
  kind?: string;
  status?: string;
  schedule?: string;
  since?: string;
  limit?: string;
  cursor?: string;
}

export async function list(ctx: Context, opts: ListOptions): Promise<number> {
  const now = Date.now();
  const page = await ctx.client.list({
    kind: opts.kind,
    status: opts.status?.split(',').map((s) => s.trim()) as RunStatus[] | undefined,
    scheduleId: opts.schedule,
    from: opts.since ? sinceToInstant(opts.since, now) : undefined,
    limit: opts.limit === undefined ? 20 : Number(opts.limit),
    cursor: opts.cursor,
  });
  if (ctx.json) {
    ctx.emit(page);
    return EXIT.ok;
  }
  if (page.items.length === 0) {
    ctx.out('no runs');
    return EXIT.ok;
  }
  ctx.out(
    table(
      [
        { header: 'ID' },
        { header: 'KIND', flex: true },
        { header: 'STATUS' },
        { header: 'PROG', align: 'right' },
        { header: 'TOOK', align: 'right' },
        { header: 'AGE', align: 'right' },
      ],
      page.items.map((r) => [
        r.id,
        r.kind,
        r.status,
        `${progressOf(r).percent}%`,
        shortMillis(r.durationMs),
        ago(r.requestedAt, now),
      ]),
    ),
  );
  if (page.nextCursor) ctx.note(`more: runforge ls --cursor ${page.nextCursor}`);
  return EXIT.ok;
}

export async function show(ctx: Context, id: string): Promise<number> {
  const run = await ctx.client.status(id);
  if (ctx.json) ctx.emit(run);
  else ctx.out(runDetails(run));
  return EXIT.ok;
}

export interface LogsOptions {
  level?: string;
  follow?: boolean;
}

function levelOf(level: string | undefined): LogLevel | undefined {
  if (level === undefined) return undefined;
  const upper = level.toUpperCase() as LogLevel;
  if (!LOG_LEVELS.includes(upper)) throw new FlagError('--level', `must be one of ${LOG_LEVELS.join(', ')}`);
  return upper;
}

export async function logs(ctx: Context, id: string, opts: LogsOptions): Promise<number> {
  const level = levelOf(opts.level);
  const print = (line: RunLogLine): void => {
    if (ctx.json) process.stdout.write(`${JSON.stringify(line)}\n`);
    else ctx.out(logLine(line));
  };
  if (opts.follow) {
    const stop = new AbortController();
    const onInterrupt = (): void => stop.abort();
    process.once('SIGINT', onInterrupt);
    try {
      for await (const line of ctx.client.followLogs(id, { level, signal: stop.signal })) print(line);
    } finally {
      process.removeListener('SIGINT', onInterrupt);
    }
    return stop.signal.aborted ? EXIT.cancelled : EXIT.ok;
  }
  const items: RunLogLine[] = [];
  let cursor: string | undefined;
  do {
    const page = await ctx.client.logs(id, { level, limit: 1000, cursor });
    items.push(...page.items);
    cursor = page.nextCursor ?? undefined;
  } while (cursor);
  if (ctx.json) ctx.emit({ items });
  else if (items.length === 0) ctx.out('no log lines');
  else for (const line of items) print(line);
  return EXIT.ok;
}

export interface TrialsOptions {
  failed?: boolean;
  sort?: string;
  limit?: string;
}

export async function trials(ctx: Context, id: string, opts: TrialsOptions): Promise<number> {
  const page = await ctx.client.trials(id, {
    status: opts.failed ? 'Failed' : undefined,
    sort: opts.sort as TrialSort | undefined,
    limit: opts.limit === undefined ? 20 : Number(opts.limit),
  });
  if (ctx.json) {
    ctx.emit(page);
    return EXIT.ok;
  }
  const done = page.completedCombinations + page.failedCombinations;
  ctx.out(
    `${count(done)} of ${count(page.totalCombinations ?? 0)} trials done, ${count(page.failedCombinations)} failed`,
  );
  if (page.items.length === 0) return EXIT.ok;
  ctx.out(
    table(
      [
        { header: '#', align: 'right' },
        { header: 'STATUS' },
        { header: 'PARAMS', flex: true },
        { header: 'SCORE', align: 'right' },
        { header: 'ERROR', flex: true },
      ],
      page.items.map((t) => [
        String(t.index),
        t.status,
        paramsText(t.params),
        typeof t.score === 'number' ? t.score.toFixed(4) : '–',
        t.errorMessage ?? '',
      ]),
    ),
  );
  if (page.nextCursor) ctx.note(`${page.items.length} shown; --limit for more, --json for every field`);
  return EXIT.ok;
}

/** The few words that say what an event of the audit history did. */
export function eventDetail(event: RunHistoryEvent): string {
  const data = (event.data ?? {}) as Record<string, unknown>;
  const said = (key: string): string | undefined => (typeof data[key] === 'string' ? data[key] : undefined);
  const parts: string[] = [];
  if (typeof data.processedBars === 'number') parts.push(`${count(data.processedBars)} bars`);
  if (typeof data.progress === 'number') parts.push(`${data.progress}%`);
  if (typeof data.index === 'number') parts.push(`trial #${data.index}`);
  for (const key of ['workerId', 'level', 'reason', 'message', 'errorMessage', 'principal']) {
    const value = said(key);
    if (value) parts.push(key === 'workerId' ? `on ${value}` : value);
  }
  return parts.join(' ');
}

export async function events(ctx: Context, id: string): Promise<number> {
  const history = await ctx.client.events(id);
  if (ctx.json) {
    ctx.emit(history);
    return EXIT.ok;
  }
  ctx.out(
    table(
      [
        { header: 'SEQ', align: 'right' },
        { header: 'TIME (UTC)' },
        { header: 'EVENT' },
        { header: 'ATT', align: 'right' },
        { header: 'DETAIL', flex: true },
      ],
      history.events.map((e) => [
        String(e.seq),
        instant(e.occurredAt).slice(11, 20),
        truncate(e.type, 26),
        String(e.attempt),
        eventDetail(e),
      ]),
    ),
  );
  return EXIT.ok;
}
