import './tracing';
import 'reflect-metadata';
import { bootstrapService, loadConfig } from '@runforge/service';
import { GatewayAppModule } from './app.module';
import { AllExceptionsFilter } from './common/all-exceptions.filter';
import { serveDashboard } from './web/dashboard.static';
import { getAbsoluteFSPath } from 'swagger-ui-dist';

async function main(): Promise<void> {
  const cfg = loadConfig('gateway');
  await bootstrapService(GatewayAppModule.forRoot(cfg), cfg, (app) => {
    app.useGlobalFilters(new AllExceptionsFilter());
    // The dashboard (apps/gateway/web, built by `npm run build`) at `/`.
    serveDashboard(app);
    // Swagger UI's files for /docs, from the swagger-ui-dist package (no CDN at run time).
    app.useStaticAssets({ root: getAbsoluteFSPath(), prefix: '/docs/assets/', decorateReply: false });
  });
}

main().catch((err: unknown) => {
  console.error('gateway failed to start', err);
  process.exit(1);
});
