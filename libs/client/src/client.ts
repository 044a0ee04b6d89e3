import type {
  CancelRunAnswer,
  Page,
  RetryRunAnswer,
  RunDetails,
  RunHistory,
  RunLogLine,
  RunSummary,
  StreamedRun,
  TrialsPage,
} from '@runforge/contracts';
import { refusalOf, RunForgeError } from './errors';
import { serverSentEvents } from './sse';
import {
  isTerminal,
  type Dataset,
  type KindInfo,
  type LogFilters,
  type RunFilters,
  type Schedule,
  type ScheduleDetails,
  type SubmitAnswer,
  type TrialFilters,
  type TriggerAnswer,
  type UploadOptions,
} from './types';

export interface ClientOptions {
  /** The gateway, e.g. `http://localhost:3000`; empty: the page's own origin (the dashboard). */
  url?: string;
  /** Sent as `Authorization: Bearer <apiKey>` when set. */
  apiKey?: string;
  /** A `fetch` of your own (tests, proxies); the global one by default. */
  fetch?: typeof fetch;
}

export interface WatchOptions {
  /** Stops watching (the run itself is left alone). */
  signal?: AbortSignal;
  /** How long to wait before reconnecting a dropped stream (ms); doubles up to 10 s. */
  reconnectMs?: number;
}

export interface FollowOptions extends WatchOptions {
  level?: LogFilters['level'];
  /** How often to look for new lines while the run is active (ms). */
  pollMs?: number;
}

type Query = Record<string, string | number | readonly string[] | undefined>;

interface Call {
  body?: unknown;
  query?: Query;
  headers?: Record<string, string>;
  signal?: AbortSignal;
  /** The body as is, with its content type (a CSV upload), instead of JSON. */
  raw?: { contentType: string; text: string };
}

const MAX_RECONNECT_MS = 10_000;

/**
 * The RunForge REST API and its live streams, typed from libs/contracts. Works in Node (20+) and in
 * the browser alike: `fetch`, streams and `TextDecoder` only. Every refusal becomes a
 * `RunForgeError` carrying the status and the `issues` of a 400.
 */
export class RunForgeClient {
  private readonly base: string;
  private readonly fetchFn: typeof fetch;

  constructor(private readonly options: ClientOptions = {}) {
    this.base = (options.url ?? '').replace(/\/+$/, '');
    // Bound: a browser's fetch called as a method of another object throws "Illegal invocation".
    this.fetchFn = options.fetch ?? ((input, init) => fetch(input, init));
  }

  /** The gateway this client talks to ('' for the page's own origin). */
  get url(): string {
    return this.base;
  }

  // ---- runs ----

  /** Submits a run of any kind (`POST /api/runs`); answers its id at once. */
  submit(kind: string, request: object, opts: { idempotencyKey?: string } = {}): Promise<SubmitAnswer> {
    const headers: Record<string, string> = opts.idempotencyKey ? { 'idempotency-key': opts.idempotencyKey } : {};
    return this.call<SubmitAnswer>('POST', '/api/runs', { body: { ...request, kind }, headers });
  }

  /** Every field of a run, an optimization's progress and its latest log lines. */
  status(id: string): Promise<RunDetails> {
    return this.call<RunDetails>('GET', `/api/runs/${seg(id)}`);
  }

  /** Cancels a Pending or Running run: `Cancelled`, or `Cancelling` when the worker has not confirmed yet. */
  cancel(id: string): Promise<CancelRunAnswer> {
    return this.call<CancelRunAnswer>('POST', `/api/runs/${seg(id)}/cancel`, { body: {} });
  }

  /** Runs a finished run's request again, as a new run linked to it (`retryOf`). */
  retry(id: string): Promise<RetryRunAnswer> {
    return this.call<RetryRunAnswer>('POST', `/api/runs/${seg(id)}/retry`, { body: {} });
  }

  /** Runs, newest first, one page (`nextCursor` continues it). */
  list(filters: RunFilters = {}): Promise<Page<RunSummary>> {
    return this.call<Page<RunSummary>>('GET', '/api/runs', { query: { ...filters } });
  }

  /** One page of a run's log lines, oldest first. */
  logs(id: string, filters: LogFilters = {}): Promise<Page<RunLogLine>> {
    return this.call<Page<RunLogLine>>('GET', `/api/runs/${seg(id)}/logs`, { query: { ...filters } });
  }

  /**
   * Every log line of a run, oldest first, then the new ones as they are recorded until the run
   * ends (or `signal` aborts).
   */
  async *followLogs(id: string, opts: FollowOptions = {}): AsyncGenerator<RunLogLine> {
    const pollMs = opts.pollMs ?? 1_000;
    let cursor: string | undefined;
    let lastSeq = -1;
    for (;;) {
      if (opts.signal?.aborted) return;
      // Read whether the run has ended before reading its lines: lines recorded before its end are then all in.
      const ended = isTerminal((await this.status(id)).status);
      for (;;) {
        const page = await this.logs(id, { level: opts.level, limit: 1000, cursor });
        for (const line of page.items) {
          if (line.seq <= lastSeq) continue;
          lastSeq = line.seq;
          yield line;
        }
        if (!page.nextCursor) break;
        cursor = page.nextCursor;
      }
      if (ended) return;
      if (!(await pause(pollMs, opts.signal))) return;
    }
  }

  /** One page of an optimization's trials, with the run's counts. */
  trials(id: string, filters: TrialFilters = {}): Promise<TrialsPage> {
    return this.call<TrialsPage>('GET', `/api/runs/${seg(id)}/trials`, { query: { ...filters } });
  }

  /** The run's whole event history from the event log (the audit timeline). */
  events(id: string): Promise<RunHistory> {
    return this.call<RunHistory>('GET', `/api/runs/${seg(id)}/events`);
  }

  /**
   * The run as it changes: its state at once, then on every change, ending with its terminal
   * state (`GET /api/runs/{id}/stream`, Server-Sent Events). A dropped stream is read once through
   * the status endpoint and reconnected, so no ending is missed. Leaving the loop (or `signal`)
   * stops watching; the run goes on.
   */
  async *watch(id: string, opts: WatchOptions = {}): AsyncGenerator<StreamedRun> {
    const stop = new AbortController();
    const onAbort = (): void => stop.abort();
    opts.signal?.addEventListener('abort', onAbort, { once: true });
    if (opts.signal?.aborted) stop.abort();
    const baseDelay = opts.reconnectMs ?? 500;
    let delay = baseDelay;
    let last: StreamedRun | undefined;
    try {
      while (!stop.signal.aborted) {
        try {
          const res = await this.send('GET', `/api/runs/${seg(id)}/stream`, {
            headers: { accept: 'text/event-stream' },
            signal: stop.signal,
          });
          if (!res.body) throw new RunForgeError(0, 'the live stream answered without a body');
          for await (const event of serverSentEvents(res.body)) {
            if (event.event === 'snapshot') {
              last = JSON.parse(event.data) as StreamedRun;
              delay = baseDelay;
              yield last;
              if (isTerminal(last.status)) return;
            } else if (event.event === 'end') {
              break;
            }
          }
        } catch (err) {
          if (stop.signal.aborted) return;
          // A refusal (404, 401…) will not change by reconnecting; a dropped connection may.
          if (err instanceof RunForgeError && err.status !== 0 && err.status < 500) throw err;
        }
        if (stop.signal.aborted) return;
        // The stream ended without a terminal snapshot, or dropped: read the run, then reconnect.
        try {
          const now = await this.status(id);
          if (!last || JSON.stringify(now) !== JSON.stringify(last)) {
            last = now;
            yield now;
          }
          if (isTerminal(now.status)) return;
        } catch (err) {
          if (err instanceof RunForgeError && err.status !== 0 && err.status < 500) throw err;
        }
        if (!(await pause(delay, stop.signal))) return;
        delay = Math.min(delay * 2, MAX_RECONNECT_MS);
      }
    } finally {
      opts.signal?.removeEventListener('abort', onAbort);
      stop.abort();
    }
  }

  /** Waits for the run to end and answers its final state (whatever the ending: check `status`). */
  async result(id: string, opts: WatchOptions = {}): Promise<StreamedRun> {
    let last: StreamedRun | undefined;
    for await (const run of this.watch(id, opts)) last = run;
    if (!last || !isTerminal(last.status)) {
      throw new RunForgeError(0, `stopped waiting for run ${id} before it ended`);
    }
    return last;
  }

  // ---- what can be run ----

  kinds(): Promise<{ items: KindInfo[] }> {
    return this.call('GET', '/api/kinds');
  }

  strategies(): Promise<Record<string, unknown>> {
    return this.call('GET', '/api/strategies');
  }

  // ---- schedules ----

  readonly schedules = {
    list: (): Promise<{ items: Schedule[] }> => this.call('GET', '/api/schedules'),
    get: (id: string): Promise<ScheduleDetails> => this.call('GET', `/api/schedules/${seg(id)}`),
    create: (definition: object): Promise<Schedule> => this.call('POST', '/api/schedules', { body: definition }),
    update: (id: string, patch: object): Promise<ScheduleDetails> =>
      this.call('PATCH', `/api/schedules/${seg(id)}`, { body: patch }),
    remove: (id: string): Promise<void> => this.call('DELETE', `/api/schedules/${seg(id)}`),
    pause: (id: string): Promise<ScheduleDetails> => this.call('POST', `/api/schedules/${seg(id)}/pause`, { body: {} }),
    resume: (id: string): Promise<ScheduleDetails> =>
      this.call('POST', `/api/schedules/${seg(id)}/resume`, { body: {} }),
    trigger: (id: string): Promise<TriggerAnswer> =>
      this.call('POST', `/api/schedules/${seg(id)}/trigger`, { body: {} }),
  };

  // ---- datasets ----

  readonly datasets = {
    list: (): Promise<{ items: Dataset[] }> => this.call('GET', '/api/datasets'),
    get: (id: string): Promise<Dataset> => this.call('GET', `/api/datasets/${seg(id)}`),
    /** Uploads OHLCV bars as CSV (`timestamp,open,high,low,close,volume`); a bad row is a 400 naming its line. */
    upload: (csv: string, opts: UploadOptions): Promise<Dataset> =>
      this.call('POST', '/api/datasets', {
        query: { symbol: opts.symbol, timeframe: opts.timeframe, name: opts.name },
        raw: { contentType: 'text/csv', text: csv },
      }),
  };

  // ---- HTTP ----

  /** A JSON call: the parsed answer, or a `RunForgeError`. */
  async call<T>(method: string, path: string, call: Call = {}): Promise<T> {
    const res = await this.send(method, path, call);
    const text = await res.text();
    if (!text) return undefined as T;
    try {
      return JSON.parse(text) as T;
    } catch (cause) {
      throw new RunForgeError(
        res.status,
        `the gateway answered something other than JSON: ${text.slice(0, 200)}`,
        [],
        text,
        {
          cause,
        },
      );
    }
  }

  /** The raw response of a call that succeeded (2xx); a refusal is thrown as a `RunForgeError`. */
  private async send(method: string, path: string, call: Call): Promise<Response> {
    const headers: Record<string, string> = { ...call.headers };
    if (this.options.apiKey) headers.authorization = `Bearer ${this.options.apiKey}`;
    let body: string | undefined;
    if (call.raw) {
      headers['content-type'] = call.raw.contentType;
      body = call.raw.text;
    } else if (call.body !== undefined) {
      headers['content-type'] = 'application/json';
      body = JSON.stringify(call.body);
    }
    const url = `${this.base}${path}${queryString(call.query)}`;
    let res: Response;
    try {
      res = await this.fetchFn(url, { method, headers, body, signal: call.signal });
    } catch (cause) {
      if (call.signal?.aborted) throw cause;
      const reason = cause instanceof Error ? (cause.cause instanceof Error ? cause.cause.message : cause.message) : '';
      const where = this.base ? `the gateway at ${this.base}` : 'the gateway';
      throw new RunForgeError(0, `${where} cannot be reached${reason ? ` (${reason})` : ''}`, [], undefined, { cause });
    }
    if (res.ok) return res;
    const text = await res.text().catch(() => '');
    let parsed: unknown = text;
    try {
      parsed = text ? JSON.parse(text) : undefined;
    } catch {
      /* not JSON: kept as text */
    }
    throw refusalOf(res.status, res.statusText, parsed);
  }
}

/** An id as one path segment. */
function seg(id: string): string {
  return encodeURIComponent(id);
}

/** `?a=1&b=x,y` from the defined values (lists joined by commas, as the API reads them). */
export function queryString(query: Query | undefined): string {
  if (!query) return '';
  const q = new URLSearchParams();
  for (const [key, value] of Object.entries(query)) {
    if (value === undefined || value === '') continue;
    q.set(key, Array.isArray(value) ? value.join(',') : String(value));
  }
  const s = q.toString();
  return s ? `?${s}` : '';
}

/** Waits `ms`; answers false if `signal` aborted first. */
function pause(ms: number, signal: AbortSignal | undefined): Promise<boolean> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve(false);
    const done = (ok: boolean): void => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
      resolve(ok);
    };
    const onAbort = (): void => done(false);
    const timer = setTimeout(() => done(true), ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
