import { ArgumentsHost, Catch, HttpException, HttpStatus, Logger, type ExceptionFilter } from '@nestjs/common';
import type { FastifyReply } from 'fastify';
import { isNatsUnavailable } from '@runforge/messaging';

/** Connection-level failures of Postgres (refused, reset, shutting down, too many connections). */
const PG_UNAVAILABLE = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', '57P01', '57P02', '57P03', '53300']);

/** What is down, if the error says a backing service is unavailable (its cause chain included). */
export function unavailableService(err: unknown): 'NATS' | 'Postgres' | undefined {
  if (isNatsUnavailable(err)) return 'NATS';
  for (let e = err, depth = 0; e instanceof Error && depth < 5; e = e.cause, depth++) {
    const code =
      (e as { code?: unknown; driverError?: { code?: unknown } }).driverError?.code ?? (e as { code?: unknown }).code;
    if (typeof code === 'string' && PG_UNAVAILABLE.has(code)) return 'Postgres';
    // node-postgres' own timeouts (DB_CONNECT_TIMEOUT_MS, DB_QUERY_TIMEOUT_MS) and a dead connection.
    if (/Connection terminated|timeout exceeded when trying to connect|Query read timeout/i.test(e.message))
      return 'Postgres';
  }
  return undefined;
}

interface FastifyLikeError {
  statusCode?: number;
  code?: string;
  message?: string;
}

/**
 * Every error answers JSON `{statusCode, error, message}`; a client error keeps its reason, a
 * server error never leaks a stack trace (it is logged instead). NATS or Postgres being unreachable
 * is a 503 saying which, with `Retry-After`, rather than an anonymous 500.
 */
@Catch()
export class AllExceptionsFilter implements ExceptionFilter {
  private readonly log = new Logger('Http');

  catch(exception: unknown, host: ArgumentsHost): void {
    const reply = host.switchToHttp().getResponse<FastifyReply>();
    if (exception instanceof HttpException) {
      const status = exception.getStatus();
      const raw = exception.getResponse();
      const body: Record<string, unknown> = typeof raw === 'string' ? { statusCode: status, message: raw } : { ...raw };
      if (status === 400 && !Array.isArray(body.issues)) {
        // Body parsing errors raised before validation: still name the field (the body) and the reason.
        const message = /JSON/i.test(String(body.message)) ? 'malformed JSON body' : String(body.message);
        Object.assign(body, { error: 'Bad Request', message, issues: [{ field: '(body)', reason: message }] });
      }
      void reply.status(status).send(body);
      return;
    }
    const fe = exception as FastifyLikeError;
    if (typeof fe?.statusCode === 'number' && fe.statusCode >= 400 && fe.statusCode < 500) {
      // Fastify's own client errors: malformed JSON, wrong content type, body too large.
      const reason =
        fe.code === 'FST_ERR_CTP_INVALID_JSON_BODY' || /JSON/i.test(fe.message ?? '')
          ? 'malformed JSON body'
          : fe.message;
      if (fe.statusCode === 429) {
        // The rate limit's answer (its Retry-After header is already set).
        void reply.status(429).send({ statusCode: 429, error: 'Too Many Requests', message: fe.message });
        return;
      }
      void reply.status(fe.statusCode).send({
        statusCode: fe.statusCode,
        error: 'Bad Request',
        message: reason,
        issues: [{ field: '(body)', reason }],
      });
      return;
    }
    const down = unavailableService(exception);
    if (down) {
      this.log.warn({ err: exception }, `${down} unavailable`);
      void reply.status(HttpStatus.SERVICE_UNAVAILABLE).header('retry-after', '5').send(unavailableBody(down));
      return;
    }
    this.log.error({ err: exception }, 'unhandled error');
    void reply
      .status(HttpStatus.INTERNAL_SERVER_ERROR)
      .send({ statusCode: 500, error: 'Internal Server Error', message: 'internal error' });
  }
}

/** The `503` body when NATS or Postgres does not answer (sent with `Retry-After: 5`). */
export function unavailableBody(down: 'NATS' | 'Postgres'): { statusCode: 503; error: string; message: string } {
  const what = down === 'NATS' ? 'the event log (NATS)' : 'the read models (Postgres)';
  return {
    statusCode: 503,
    error: 'Service Unavailable',
    message: `${what} did not answer; try again shortly${down === 'NATS' ? ' (a submission retried with the same Idempotency-Key never runs twice)' : ''}`,
  };
}
