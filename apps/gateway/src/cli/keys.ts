import 'reflect-metadata';
import { Command, InvalidArgumentError, Option } from 'commander';
import { DataSource } from 'typeorm';
import { ROLES, type Role } from '@runforge/contracts';
import { dataSourceOptions } from '@runforge/read-models';
import { loadConfig } from '@runforge/service';
import { parseLifetime } from '../auth/api-key-secret';
import { ApiKeyStore, type ApiKeyView } from '../auth/api-key-store';

/**
 * `npm run keys -- create --role operator --name ci [--expires 30d]`, `keys ls`, `keys revoke <id>`:
 * API keys straight in Postgres (DATABASE_URL, DB_SCHEMA), for the first key of a deployment or when
 * no admin key is at hand. The secret is printed once, on stdout alone, so it can be captured.
 */
const CLI_PRINCIPAL = { kind: 'key', id: 'cli', name: `keys command (${process.env.USER ?? 'unknown user'})` } as const;

function lifetime(text: string): number {
  const ms = parseLifetime(text);
  if (ms === undefined) throw new InvalidArgumentError('expected a lifetime like 30d, 12h or 90m');
  return ms;
}

async function withStore<T>(fn: (store: ApiKeyStore) => Promise<T>): Promise<T> {
  const db = new DataSource({ ...dataSourceOptions(loadConfig('gateway')), extra: { max: 1 } });
  await db.initialize();
  try {
    return await fn(new ApiKeyStore(db));
  } finally {
    await db.destroy();
  }
}

function row(k: ApiKeyView): string {
  const state = k.revokedAt ? `revoked ${k.revokedAt}` : k.expiresAt ? `expires ${k.expiresAt}` : 'no expiry';
  return [k.id, k.role.padEnd(8), k.prefix.padEnd(10), k.name, `(${state}; last used ${k.lastUsedAt ?? 'never'})`].join(
    '  ',
  );
}

const program = new Command('keys').description('manage RunForge API keys').showHelpAfterError();

program
  .command('create')
  .description('create a key and print its secret (shown only this once)')
  .requiredOption('--name <name>', 'what the key is for, e.g. ci')
  .addOption(new Option('--role <role>', 'what the key may do').choices(ROLES).makeOptionMandatory())
  .option('--expires <lifetime>', 'expire after this long, e.g. 30d, 12h', lifetime)
  .option('--json', 'print the whole answer as JSON')
  .action(async (opts: { name: string; role: Role; expires?: number; json?: boolean }) => {
    const now = new Date();
    const expiresAt = opts.expires === undefined ? undefined : new Date(now.getTime() + opts.expires);
    const created = await withStore((s) =>
      s.create({ name: opts.name, role: opts.role, expiresAt, createdBy: CLI_PRINCIPAL }, now),
    );
    if (opts.json) {
      console.log(JSON.stringify(created, null, 2));
      return;
    }
    console.error(`created ${created.role} key ${created.id} "${created.name}"; its secret (shown once):`);
    console.log(created.secret);
  });

program
  .command('ls')
  .description('list keys (never their secrets)')
  .option('--json', 'print JSON')
  .action(async (opts: { json?: boolean }) => {
    const keys = await withStore((s) => s.list());
    console.log(opts.json ? JSON.stringify(keys, null, 2) : keys.map(row).join('\n') || '(no keys)');
  });

program
  .command('revoke')
  .description('revoke a key at once')
  .argument('<id>', 'the key id (from keys ls)')
  .action(async (id: string) => {
    const revoked = await withStore((s) => s.revoke(id, CLI_PRINCIPAL));
    if (!revoked) {
      console.error(`no key with id "${id}"`);
      process.exitCode = 1;
      return;
    }
    console.log(row(revoked));
  });

program.parseAsync().catch((err: unknown) => {
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
});
