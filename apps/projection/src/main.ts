import './tracing';
import 'reflect-metadata';
import { JetStreamServer } from '@runforge/messaging';
import { bootstrapService, loadConfig } from '@runforge/service';
import { runMigrations } from '@runforge/read-models';
import { ProjectionAppModule } from './app.module';

async function main(): Promise<void> {
  const cfg = loadConfig('projection');
  // The projection owns the read-model schema: it migrates before it applies anything.
  await runMigrations(cfg);
  const transport = new JetStreamServer();
  await bootstrapService(ProjectionAppModule.forRoot(cfg, transport), cfg, undefined, transport);
}

main().catch((err: unknown) => {
  console.error('projection failed to start', err);
  process.exit(1);
});
