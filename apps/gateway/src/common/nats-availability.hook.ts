import { Injectable, type OnModuleInit } from '@nestjs/common';
import { HttpAdapterHost } from '@nestjs/core';
import { Messaging } from '@runforge/service';
import type { FastifyInstance } from 'fastify';
import { unavailableBody } from './all-exceptions.filter';

/** Reads that need NATS (histories, live streams, the dataset store); every other read is Postgres. */
const NATS_READS = /^\/api\/(datasets|runs\/stream)|\/(events|stream)(\?|$)/;

/**
 * While the gateway's NATS connection is down, a request that needs it answers `503` at once, as the
 * exception filter would after a request timed out (5 s each, and a keyed submission makes three).
 * Requests that only read Postgres are served as usual.
 */
@Injectable()
export class NatsAvailability implements OnModuleInit {
  constructor(
    private readonly adapterHost: HttpAdapterHost,
    private readonly messaging: Messaging,
  ) {}

  onModuleInit(): void {
    const fastify = this.adapterHost.httpAdapter.getInstance<FastifyInstance>();
    fastify.addHook('onRequest', async (req, reply) => {
      if (!req.url.startsWith('/api/') || this.messaging.connected()) return;
      const path = req.url.split('?')[0] ?? req.url;
      if (req.method === 'GET' && !NATS_READS.test(path)) return;
      await reply.code(503).header('retry-after', '5').send(unavailableBody('NATS'));
    });
  }
}
