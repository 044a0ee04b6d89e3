import { NestFactory } from '@nestjs/core';
import { FastifyAdapter, type NestFastifyApplication } from '@nestjs/platform-fastify';
import { Logger } from 'nestjs-pino';
import type { RunForgeConfig } from './config';

/** Boots a service as a Fastify HTTP app (every service serves at least /health and /metrics). */
export async function bootstrapService(
  rootModule: unknown,
  cfg: RunForgeConfig,
  configure?: (app: NestFastifyApplication) => void | Promise<void>,
): Promise<NestFastifyApplication> {
  const app = await NestFactory.create<NestFastifyApplication>(
    rootModule as never,
    new FastifyAdapter({ bodyLimit: 64 * 1024 * 1024 }),
    { bufferLogs: true },
  );
  app.useLogger(app.get(Logger));
  app.enableShutdownHooks();
  if (configure) await configure(app);
  await app.listen(cfg.httpPort, cfg.httpHost);
  const url = await app.getUrl();
  app.get(Logger).log(`${cfg.service} listening on ${url}`, 'Bootstrap');
  return app;
}
