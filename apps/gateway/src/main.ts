import './tracing';
import 'reflect-metadata';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import { bootstrapService, loadConfig } from '@runforge/service';
import { GatewayAppModule } from './app.module';
import { AllExceptionsFilter } from './common/all-exceptions.filter';
import { serveDashboard } from './web/dashboard.static';
import { getAbsoluteFSPath } from 'swagger-ui-dist';
import { abuseLimitsFrom, registerAbuseLimits } from './security/abuse-limits';
import { oidcSettingsFrom } from './auth/oidc-tokens';

async function main(): Promise<void> {
  const cfg = loadConfig('gateway');
  const limits = abuseLimitsFrom();
  // The dashboard's OIDC sign-in reads the issuer's discovery document and token endpoint itself.
  const dashboardOidc = oidcSettingsFrom()?.dashboard;
  const connectOrigins = dashboardOidc ? [new URL(dashboardOidc.issuer).origin] : [];
  const configure = async (app: NestFastifyApplication): Promise<void> => {
    await registerAbuseLimits(app, limits, connectOrigins);
    app.useGlobalFilters(new AllExceptionsFilter());
    // The dashboard (apps/gateway/web, built by `npm run build`) at `/`.
    serveDashboard(app);
    // Swagger UI's files for /docs, from the swagger-ui-dist package (no CDN at run time).
    app.useStaticAssets({ root: getAbsoluteFSPath(), prefix: '/docs/assets/', decorateReply: false });
  };
  // The server's body limit is the JSON one (Nest's JSON parser takes it); CSV uploads have their own.
  await bootstrapService(GatewayAppModule.forRoot(cfg), cfg, configure, undefined, limits.jsonBodyBytes);
}

main().catch((err: unknown) => {
  console.error('gateway failed to start', err);
  process.exit(1);
});
