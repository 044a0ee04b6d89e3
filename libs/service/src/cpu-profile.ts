import { writeFileSync } from 'node:fs';
import { Session } from 'node:inspector';
import {
  Inject,
  Injectable,
  Logger,
  type BeforeApplicationShutdown,
  type OnApplicationBootstrap,
} from '@nestjs/common';
import type { RunForgeConfig } from './config';
import { RUNFORGE_CONFIG } from './tokens';

/**
 * Diagnostics: with RUNFORGE_CPU_PROFILE=<file>, a service records a V8 CPU profile from start to
 * shutdown and writes it there (open it in Chrome DevTools). `node --cpu-prof` cannot be used for
 * this: a service stopped by a signal never reaches the exit hook that writes its profile.
 */
@Injectable()
export class CpuProfile implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private readonly log = new Logger(CpuProfile.name);
  /** `%s` in the path is replaced by the service's name, `%p` by the process id (one setting for all). */
  private readonly file: string | undefined;

  constructor(@Inject(RUNFORGE_CONFIG) cfg: RunForgeConfig) {
    this.file = process.env.RUNFORGE_CPU_PROFILE?.replace('%s', cfg.service).replace('%p', String(process.pid));
  }
  private session?: Session;

  onApplicationBootstrap(): void {
    if (!this.file) return;
    this.session = new Session();
    this.session.connect();
    this.session.post('Profiler.enable', () => this.session?.post('Profiler.start'));
  }

  beforeApplicationShutdown(): Promise<void> {
    const session = this.session;
    const file = this.file;
    if (!session || !file) return Promise.resolve();
    return new Promise((resolve) => {
      session.post('Profiler.stop', (err, result) => {
        if (!err) writeFileSync(file, JSON.stringify(result.profile));
        this.log.log(err ? `CPU profile failed: ${err.message}` : `CPU profile written to ${file}`);
        session.disconnect();
        resolve();
      });
    });
  }
}
