import type { Params } from 'nestjs-pino';
import { activeRunId, activeTraceIds } from '@runforge/telemetry';

export type LogFormat = 'json' | 'pretty';

/**
 * How the services log: `LOG_FORMAT=json|pretty` decides; without it, `LOG_PRETTY=1` (the older
 * switch) means pretty. JSON lines by default: a service started on its own, or in a container, is
 * read by machines; `npm start` sets `LOG_FORMAT=pretty` (unless it runs in a container).
 */
export function logFormatOf(env: NodeJS.ProcessEnv): LogFormat {
  const format = env.LOG_FORMAT?.trim().toLowerCase();
  if (format === 'json' || format === 'pretty') return format;
  return env.LOG_PRETTY === '1' ? 'pretty' : 'json';
}

/** Structured JSON logs (pino), or human-readable lines (pino-pretty): see `logFormatOf`. */
export function loggerOptions(service: string): Params {
  const pretty = logFormatOf(process.env) === 'pretty';
  return {
    pinoHttp: {
      level: process.env.LOG_LEVEL ?? 'info',
      base: { service },
      // A request's credential never reaches the logs (pino-http logs request headers).
      redact: { paths: ['req.headers.authorization', 'req.headers.cookie'], censor: '[redacted]' },
      // Every line written inside a span carries its trace and span ids, and inside a run's unit of
      // work (withSpanFromTraceparent with a run id, or withRunId) the run id: grep a run's lines by
      // run_id, jump to its trace by trace_id.
      mixin: logCorrelation,
      autoLogging: { ignore: (req) => (req.url ?? '').startsWith('/health') || (req.url ?? '').startsWith('/metrics') },
      // A read that succeeded (a status poll, a listing, a live stream) is a debug line: clients poll,
      // and a line per poll would drown the log and cost every request a write. Every change (POST,
      // PATCH, DELETE) is logged at info, a refused request at warn and a failed one at error.
      customLogLevel: (req, res, err) => {
        if (err || res.statusCode >= 500) return 'error';
        if (res.statusCode >= 400) return 'warn';
        return req.method === 'GET' || req.method === 'HEAD' ? 'debug' : 'info';
      },
      ...(pretty
        ? {
            transport: {
              target: 'pino-pretty',
              options: { singleLine: true, translateTime: 'HH:MM:ss.l', ignore: 'pid,hostname,service' },
            },
          }
        : {}),
    },
  };
}

/** Log fields correlating a line with the active trace and run (pino mixin). */
export function logCorrelation(): Record<string, string> {
  const ids = activeTraceIds();
  const runId = activeRunId();
  if (!ids && !runId) return {};
  return { ...(ids ? { trace_id: ids.trace_id, span_id: ids.span_id } : {}), ...(runId ? { run_id: runId } : {}) };
}
