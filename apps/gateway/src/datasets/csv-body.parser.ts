import { Injectable, type OnModuleInit } from '@nestjs/common';
import { HttpAdapterHost } from '@nestjs/core';
import type { FastifyInstance } from 'fastify';

/** Largest CSV upload accepted (about 1.5 million rows of typical OHLCV). */
export const MAX_CSV_BYTES = 128 * 1024 * 1024;

/** Lets Fastify hand `text/csv` (and `text/plain`) bodies to the upload endpoint as a string. */
@Injectable()
export class CsvBodyParser implements OnModuleInit {
  constructor(private readonly adapterHost: HttpAdapterHost) {}

  onModuleInit(): void {
    const fastify = this.adapterHost.httpAdapter.getInstance<FastifyInstance>();
    for (const type of ['text/csv', 'text/plain', 'application/csv']) {
      if (fastify.hasContentTypeParser(type)) continue;
      fastify.addContentTypeParser(type, { parseAs: 'string', bodyLimit: MAX_CSV_BYTES }, (_req, body, done) =>
        done(null, body),
      );
    }
  }
}
