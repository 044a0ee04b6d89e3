import { Injectable, Logger, type OnApplicationBootstrap } from '@nestjs/common';
import { ApiKeyStore } from './api-key-store';

/**
 * `RUNFORGE_BOOTSTRAP_ADMIN_KEY`: an admin secret the gateway stores (hashed) at start unless it is
 * known already — how `npm start` and the tests get their first key without a separate step.
 */
@Injectable()
export class BootstrapAdminKey implements OnApplicationBootstrap {
  private readonly log = new Logger('Auth');

  constructor(private readonly keys: ApiKeyStore) {}

  async onApplicationBootstrap(): Promise<void> {
    const secret = process.env.RUNFORGE_BOOTSTRAP_ADMIN_KEY;
    if (!secret) return;
    const name = process.env.RUNFORGE_BOOTSTRAP_ADMIN_NAME ?? 'bootstrap-admin';
    try {
      if (await this.keys.ensure({ name, role: 'admin' }, secret))
        this.log.log(`stored the bootstrap admin key "${name}"`);
    } catch (err) {
      // Two replicas starting at once: the other one stored it (the hash is unique).
      if ((err as { driverError?: { code?: string } }).driverError?.code !== '23505') throw err;
    }
  }
}
