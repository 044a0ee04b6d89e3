import type { Params } from 'nestjs-pino';

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
      autoLogging: { ignore: (req) => (req.url ?? '').startsWith('/health') || (req.url ?? '').startsWith('/metrics') },
      ...(pretty
        ? { transport: { target: 'pino-pretty', options: { singleLine: true, translateTime: 'HH:MM:ss.l', ignore: 'pid,hostname,service' } } }
        : {}),
    },
  };
}
