import './tracing';
import 'reflect-metadata';
import { bootstrapService, loadConfig } from '@runforge/service';
import { SchedulerAppModule } from './app.module';

async function main(): Promise<void> {
  const cfg = loadConfig('scheduler');
  await bootstrapService(SchedulerAppModule.forRoot(cfg), cfg);
}

main().catch((err: unknown) => {
  console.error('scheduler failed to start', err);
  process.exit(1);
});
