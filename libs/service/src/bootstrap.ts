import { NestFactory } from '@nestjs/core';
import { FastifyAdapter, type NestFastifyApplication } from '@nestjs/platform-fastify';
import { Logger } from 'nestjs-pino';
import type { JetStreamServer } from '@runforge/messaging';
import type { RunForgeConfig } from './config';
import { Messaging } from './tokens';

/**
 * Boots a service as a hybrid Nest app: Fastify over HTTP (every service serves at least /health and
 * /metrics) and, when given, the JetStream transport for its `@EventPattern` handlers. The transport
 * starts once the app's own lifecycle hooks have run, on the connection the service provisioned.
 */
export async function bootstrapService(
  rootModule: unknown,
  cfg: RunForgeConfig,
  configure?: (app: NestFastifyApplication) => void | Promise<void>,
  transport?: JetStreamServer,
  /** Largest request body the server parses (a content-type parser may set its own). */
  bodyLimit = 64 * 1024 * 1024,
): Promise<NestFastifyApplication> {
  const app = await NestFactory.create<NestFastifyApplication>(rootModule as never, new FastifyAdapter({ bodyLimit }), {
    bufferLogs: true,
  });
  app.useLogger(app.get(Logger));
  app.enableShutdownHooks();
  if (configure) await configure(app);
  await app.init();
  if (transport) {
    const messaging = app.get(Messaging);
    transport.useConnection(() => ({ nc: messaging.nc, topology: cfg.topology }));
    app.connectMicroservice({ strategy: transport }, { inheritAppConfig: true });
    await app.startAllMicroservices();
  }
  await app.listen(cfg.httpPort, cfg.httpHost);
  const url = await app.getUrl();
  app.get(Logger).log(`${cfg.service} listening on ${url}`, 'Bootstrap');
  return app;
}
