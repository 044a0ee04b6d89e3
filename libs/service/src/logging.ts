import type { Params } from 'nestjs-pino';
import { activeRunId, activeTraceIds } from '@runforge/telemetry';

/**
 * Structured JSON logs (pino). `LOG_PRETTY=1` (set by `npm start` in a terminal) renders them
 * human-readable instead.
 */
export function loggerOptions(service: string): Params {
  const pretty = process.env.LOG_PRETTY === '1';
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
