import './tracing';
import 'reflect-metadata';
import { JetStreamServer } from '@runforge/messaging';
import { bootstrapService, loadConfig } from '@runforge/service';
import { SchedulerAppModule } from './app.module';

async function main(): Promise<void> {
  const cfg = loadConfig('scheduler');
  await bootstrapService(SchedulerAppModule.forRoot(cfg), cfg, undefined, new JetStreamServer());
}

main().catch((err: unknown) => {
  console.error('scheduler failed to start', err);
  process.exit(1);
});
