import './tracing';
import 'reflect-metadata';
import { bootstrapService, loadConfig } from '@runforge/service';
import { runMigrations } from '@runforge/read-models';
import { ProjectionAppModule } from './app.module';

async function main(): Promise<void> {
  const cfg = loadConfig('projection');
  // The projection owns the read-model schema: it migrates before it applies anything.
  await runMigrations(cfg);
  await bootstrapService(ProjectionAppModule.forRoot(cfg), cfg);
}

main().catch((err: unknown) => {
  console.error('projection failed to start', err);
  process.exit(1);
});
