import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';

/** Built dashboard assets: `apps/gateway/web/dist` (built by `npm run build:web`), next to this app's dist. */
export const DEFAULT_DASHBOARD_DIR = path.resolve(__dirname, '../../web/dist');

/** Paths the single-page fallback must never answer: the API and the operations endpoints. */
const NOT_SPA = /^\/(api|health|metrics|docs)(\/|\?|$)/;

/**
 * Serves the dashboard from the gateway: its built files at `/` (@fastify/static), and `index.html`
 * for any other GET (client-side routes such as `/runs/<id>`), except under /api, /health, /metrics
 * and /docs, which keep their JSON 404s. Returns false (and serves nothing) when the assets were
 * not built.
 */
export function serveDashboard(app: NestFastifyApplication, root = DEFAULT_DASHBOARD_DIR): boolean {
  const indexFile = path.join(root, 'index.html');
  if (!existsSync(indexFile)) return false;
  const indexHtml = readFileSync(indexFile, 'utf8');
  // wildcard:false registers one route per built file, so the fallback below owns every other path.
  app.useStaticAssets({ root, prefix: '/', wildcard: false, cacheControl: false });
  const fastify = app.getHttpAdapter().getInstance();
  fastify.get('/*', (req, reply) => {
    if (NOT_SPA.test(req.url)) return reply.callNotFound();
    return reply.header('cache-control', 'no-cache').type('text/html; charset=utf-8').send(indexHtml);
  });
  return true;
}
