import './tracing';
import 'reflect-metadata';
import { bootstrapService, loadConfig } from '@runforge/platform';
import { GatewayAppModule } from './app.module';
import { AllExceptionsFilter } from './common/all-exceptions.filter';
import { serveDashboard } from './web/dashboard.static';

async function main(): Promise<void> {
  const cfg = loadConfig('gateway');
  await bootstrapService(GatewayAppModule.forRoot(cfg), cfg, (app) => {
    app.useGlobalFilters(new AllExceptionsFilter());
    // The dashboard (apps/gateway/web, built by `npm run build`) at `/`.
    serveDashboard(app);
  });
}

main().catch((err: unknown) => {
  console.error('gateway failed to start', err);
  process.exit(1);
});
