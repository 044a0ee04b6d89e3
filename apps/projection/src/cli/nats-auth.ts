import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { createUser, fromSeed } from '@nats-io/nkeys';
import { topology } from '@runforge/contracts';
import { NATS_IDENTITIES, natsServerConfig, type NatsIdentity } from '@runforge/messaging';

/**
 * `npm run nats-auth -- --out <dir> [--namespace ns] [--host h] [--port p] [--store-dir d]`: writes
 * `<dir>/nats.conf` (JetStream and one nkey user per identity with its permissions; public keys
 * only) and `<dir>/<identity>/seed.nk`, each identity's seed (mode 0600) in a directory of its own,
 * so a deployment can hand each service its directory alone (docker compose mounts one volume per
 * identity there). Seeds already written are kept: running it again only refreshes the permissions.
 */
function main(): number {
  const { values } = parseArgs({
    options: {
      out: { type: 'string' },
      namespace: { type: 'string', default: process.env.RUNFORGE_NAMESPACE ?? '' },
      host: { type: 'string' },
      port: { type: 'string' },
      'store-dir': { type: 'string' },
    },
  });
  if (!values.out) {
    console.error('usage: nats-auth --out <dir> [--namespace ns] [--host h] [--port p] [--store-dir d]');
    return 2;
  }
  mkdirSync(values.out, { recursive: true, mode: 0o700 });
  const users = {} as Record<NatsIdentity, string>;
  for (const identity of NATS_IDENTITIES) {
    const file = path.join(values.out, identity, 'seed.nk');
    mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
    if (!existsSync(file))
      writeFileSync(file, `${new TextDecoder().decode(createUser().getSeed())}\n`, { mode: 0o600 });
    users[identity] = fromSeed(new TextEncoder().encode(readFileSync(file, 'utf8').trim())).getPublicKey();
  }
  const config = natsServerConfig({
    topology: topology(values.namespace),
    users,
    ...(values.host !== undefined ? { host: values.host } : {}),
    ...(values.port !== undefined ? { port: Number(values.port) } : {}),
    ...(values['store-dir'] !== undefined ? { storeDir: values['store-dir'] } : {}),
  });
  writeFileSync(path.join(values.out, 'nats.conf'), config);
  console.log(`wrote ${path.join(values.out, 'nats.conf')} and <identity>/seed.nk for ${NATS_IDENTITIES.join(', ')}`);
  return 0;
}

process.exit(main());
