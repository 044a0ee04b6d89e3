import { Injectable, type OnModuleInit } from '@nestjs/common';
import { HttpAdapterHost } from '@nestjs/core';
import type { FastifyInstance } from 'fastify';

/** Routes whose body is not JSON (CSV uploads). */
const NON_JSON_ROUTES = ['/api/datasets'];

/**
 * The API's bodies are JSON. A body sent as anything else (e.g. `curl -d` without a content-type,
 * which sends a form) answers `415` saying so, instead of being parsed as a form and refused
 * field by field with confusing reasons.
 */
@Injectable()
export class JsonBodiesOnly implements OnModuleInit {
  constructor(private readonly adapterHost: HttpAdapterHost) {}

  onModuleInit(): void {
    const fastify = this.adapterHost.httpAdapter.getInstance<FastifyInstance>();
    fastify.addHook('onRequest', async (req, reply) => {
      if (!['POST', 'PUT', 'PATCH'].includes(req.method) || !req.url.startsWith('/api/')) return;
      if (NON_JSON_ROUTES.some((r) => req.url === r || req.url.startsWith(`${r}?`) || req.url.startsWith(`${r}/`)))
        return;
      const hasBody = Number(req.headers['content-length'] ?? 0) > 0 || req.headers['transfer-encoding'] !== undefined;
      const type = (req.headers['content-type'] ?? '').split(';')[0]?.trim().toLowerCase() ?? '';
      if (!hasBody || type === 'application/json') return;
      await reply.code(415).send({
        statusCode: 415,
        error: 'Unsupported Media Type',
        message: `send the body as JSON with content-type: application/json (got ${type || 'no content-type'})`,
      });
    });
  }
}
