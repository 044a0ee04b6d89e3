import { Injectable, type OnModuleInit } from '@nestjs/common';
import { HttpAdapterHost } from '@nestjs/core';
import type { FastifyInstance } from 'fastify';
import { abuseLimitsFrom } from '../security/abuse-limits';

/** Lets Fastify hand `text/csv` (and `text/plain`) bodies to the upload endpoint as a string. */
@Injectable()
export class CsvBodyParser implements OnModuleInit {
  constructor(private readonly adapterHost: HttpAdapterHost) {}

  onModuleInit(): void {
    const fastify = this.adapterHost.httpAdapter.getInstance<FastifyInstance>();
    // RUNFORGE_CSV_BODY_LIMIT: 128 MiB by default (about 1.5 million rows of typical OHLCV).
    const bodyLimit = abuseLimitsFrom().csvBodyBytes;
    for (const type of ['text/csv', 'text/plain', 'application/csv']) {
      if (fastify.hasContentTypeParser(type)) continue;
      fastify.addContentTypeParser(type, { parseAs: 'string', bodyLimit }, (_req, body, done) => done(null, body));
    }
  }
}
