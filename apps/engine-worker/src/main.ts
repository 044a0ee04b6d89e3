import './tracing';
import 'reflect-metadata';
import { JetStreamServer } from '@runforge/messaging';
import { bootstrapService, loadConfig } from '@runforge/service';
import { EngineWorkerAppModule } from './app.module';

async function main(): Promise<void> {
  const cfg = loadConfig('engine-worker');
  await bootstrapService(EngineWorkerAppModule.forRoot(cfg), cfg, undefined, new JetStreamServer());
}

main().catch((err: unknown) => {
  console.error('engine-worker failed to start', err);
  process.exit(1);
});
