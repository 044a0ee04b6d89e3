import { Injectable, type OnModuleInit } from '@nestjs/common';
import { HttpAdapterHost } from '@nestjs/core';
import type { FieldIssue } from '@runforge/contracts';
import type { FastifyInstance } from 'fastify';

/** What text the API refuses anywhere: Postgres cannot store a NUL, and a lone surrogate is no text. */
function problemOf(text: string): string | undefined {
  if (text.includes('\u0000')) return 'must not contain a NUL character (\\u0000)';
  if (/[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/.test(text))
    return 'must be valid text (it holds an unpaired UTF-16 surrogate)';
  return undefined;
}

/** Every string of a JSON value that is not valid text, by field path (`template.params.fast`, `axes.slow[2]`). */
export function invalidText(value: unknown, path: string, out: FieldIssue[] = [], depth = 0): FieldIssue[] {
  if (out.length >= 20 || depth > 64) return out;
  if (typeof value === 'string') {
    const reason = problemOf(value);
    if (reason) out.push({ field: path || '(body)', reason });
  } else if (Array.isArray(value)) {
    value.forEach((v, i) => invalidText(v, `${path}[${i}]`, out, depth + 1));
  } else if (value !== null && typeof value === 'object') {
    for (const [k, v] of Object.entries(value)) {
      const keyReason = problemOf(k);
      const field = path ? `${path}.${k}` : k;
      if (keyReason) out.push({ field: field.replaceAll('\u0000', '\\u0000'), reason: `a field name ${keyReason}` });
      else invalidText(v, field, out, depth + 1);
    }
  }
  return out;
}

/**
 * No input may reach Postgres as text it cannot store (a NUL byte answered 500 on eight endpoints):
 * before any handler runs, path parameters, query parameters and JSON bodies are checked, and a
 * request carrying a NUL or a lone surrogate answers `400` naming each field.
 */
@Injectable()
export class TextIntegrity implements OnModuleInit {
  constructor(private readonly adapterHost: HttpAdapterHost) {}

  onModuleInit(): void {
    const fastify = this.adapterHost.httpAdapter.getInstance<FastifyInstance>();
    fastify.addHook('preHandler', async (req, reply) => {
      if (!req.url.startsWith('/api/')) return;
      const issues = [
        ...invalidText(req.params ?? {}, ''),
        ...invalidText(req.query ?? {}, ''),
        ...(typeof req.body === 'object' && req.body !== null && !Buffer.isBuffer(req.body)
          ? invalidText(req.body, '')
          : []),
      ];
      if (issues.length === 0) return;
      await reply
        .code(400)
        .send({ statusCode: 400, error: 'Bad Request', message: 'request validation failed', issues });
    });
  }
}
