import { ArgumentsHost, Catch, HttpException, HttpStatus, Logger, type ExceptionFilter } from '@nestjs/common';
import type { FastifyReply } from 'fastify';

interface FastifyLikeError {
  statusCode?: number;
  code?: string;
  message?: string;
}

/**
 * Every error answers JSON `{statusCode, error, message}`; a client error keeps its reason, a
 * server error never leaks a stack trace (it is logged instead).
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
      const reason = fe.code === 'FST_ERR_CTP_INVALID_JSON_BODY' || /JSON/i.test(fe.message ?? '') ? 'malformed JSON body' : fe.message;
      void reply.status(fe.statusCode).send({
        statusCode: fe.statusCode,
        error: 'Bad Request',
        message: reason,
        issues: [{ field: '(body)', reason }],
      });
      return;
    }
    this.log.error({ err: exception }, 'unhandled error');
    void reply
      .status(HttpStatus.INTERNAL_SERVER_ERROR)
      .send({ statusCode: 500, error: 'Internal Server Error', message: 'internal error' });
  }
}
