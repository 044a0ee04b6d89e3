#!/usr/bin/env node
// `npm start`: runs the whole system locally — builds, finds or starts NATS (JetStream) and
// Postgres, migrates the read models, then starts the four services with prefixed logs.
// Ctrl-C stops everything it started.
import { spawn, spawnSync, execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync, chownSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const dataDir = path.join(root, '.runforge');
const env = { ...process.env };
env.NATS_URL ??= 'nats://127.0.0.1:4222';
env.DATABASE_URL ??= 'postgres://postgres@127.0.0.1:5432/test';
// The example program kinds (examples/programs/kinds.yaml) unless another file is named: the gateway
// and the workers read the same one.
env.RUNFORGE_PROGRAM_KINDS ??= path.join(root, 'examples', 'programs', 'kinds.yaml');
const started = []; // helper processes we own (nats-server, postgres)

const say = (msg) => console.log(`\x1b[1m[start]\x1b[0m ${msg}`);
const fail = (msg) => {
  console.error(`\x1b[31m[start] ${msg}\x1b[0m`);
  stopHelpers();
  process.exit(1);
};

function which(cmd) {
  const r = spawnSync('sh', ['-c', `command -v ${cmd}`], { encoding: 'utf8' });
  return r.status === 0 ? r.stdout.trim() : undefined;
}

function reachable(host, port, timeoutMs = 700) {
  return new Promise((resolve) => {
    const s = net.connect({ host, port });
    const done = (ok) => {
      s.destroy();
      resolve(ok);
    };
    s.setTimeout(timeoutMs, () => done(false));
    s.once('connect', () => done(true));
    s.once('error', () => done(false));
  });
}

async function waitFor(host, port, what, timeoutMs = 20_000) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await reachable(host, port)) return;
    await new Promise((r) => setTimeout(r, 200));
  }
  fail(`${what} did not come up on ${host}:${port} within ${timeoutMs / 1000}s`);
}

function run(cmd, args, opts = {}) {
  const r = spawnSync(cmd, args, { stdio: 'inherit', cwd: root, env, ...opts });
  if (r.status !== 0) fail(`${cmd} ${args.join(' ')} failed (exit ${r.status})`);
}

function stopHelpers() {
  for (const p of started.reverse()) {
    try {
      p.stop();
    } catch {
      /* already gone */
    }
  }
  started.length = 0;
}

/**
 * Each service's NATS credentials (a file holding its nkey seed), when this script runs its own
 * nats-server with per-service users; empty when it reuses a server (its users are the operator's).
 */
const natsSeeds = new Map();
const natsAuthDir = path.join(dataDir, 'nats-auth');

async function ensureNats() {
  // A cluster's nodes come comma-separated: the first one answering is enough to go on.
  const u = new URL(env.NATS_URL.split(',')[0].trim());
  const host = u.hostname;
  const port = Number(u.port || 4222);
  if (await reachable(host, port)) {
    say(
      `NATS reachable at ${env.NATS_URL}: reusing it as it is configured. Per-service users and permissions\n` +
        `  are that server's operator's job (docs/security.md, "The services"): \`npm run nats-auth -- --out <dir>\`\n` +
        `  writes <dir>/nats.conf (run nats-server -c <dir>/nats.conf) and a seed per service\n` +
        `  (NATS_NKEY_SEED_FILE=<dir>/<service>/seed.nk).`,
    );
    return;
  }
  const bin = which('nats-server');
  if (!bin) {
    fail(
      `no NATS at ${env.NATS_URL} and no nats-server installed.\n` +
        `  Install it (Debian: apt-get install nats-server), point NATS_URL at a JetStream-enabled server,\n` +
        `  or run everything with: docker compose up`,
    );
  }
  const dir = path.join(dataDir, 'nats');
  mkdirSync(dir, { recursive: true });
  // Its own server is a secured one: a user per service with the permissions derived from the
  // topology, the seeds kept in .runforge/nats-auth (made on the first start, reused after).
  run('node', [
    'apps/projection/dist/cli/nats-auth.js',
    '--out',
    natsAuthDir,
    '--host',
    host,
    '--port',
    String(port),
    '--store-dir',
    dir,
  ]);
  say(`starting nats-server with per-service users on ${host}:${port} (data in ${path.relative(root, dir)})`);
  const p = spawn(bin, ['-c', path.join(natsAuthDir, 'nats.conf')], { stdio: 'ignore' });
  started.push({ stop: () => p.kill('SIGTERM') });
  await waitFor(host, port, 'nats-server');
  for (const identity of ['gateway', 'engine-worker', 'projection', 'scheduler', 'admin']) {
    natsSeeds.set(identity, path.join(natsAuthDir, identity, 'seed.nk'));
  }
}

/** The environment of a process that connects to NATS as `identity`. */
function natsEnv(identity) {
  const seed = natsSeeds.get(identity);
  return seed ? { NATS_NKEY_SEED_FILE: seed } : {};
}

async function ensurePostgres() {
  const u = new URL(env.DATABASE_URL);
  const host = u.hostname;
  const port = Number(u.port || 5432);
  if (await reachable(host, port)) return say(`Postgres reachable at ${host}:${port}`);
  const pgBinDir = ['/usr/lib/postgresql/17/bin', '/usr/lib/postgresql/16/bin', '/usr/lib/postgresql/15/bin'].find(
    (d) => existsSync(path.join(d, 'initdb')),
  );
  const initdb = which('initdb') ?? (pgBinDir && path.join(pgBinDir, 'initdb'));
  const pgCtl = which('pg_ctl') ?? (pgBinDir && path.join(pgBinDir, 'pg_ctl'));
  if (!initdb || !pgCtl) {
    fail(
      `no Postgres at ${host}:${port} and no initdb/pg_ctl installed.\n` +
        `  Install it (Debian: apt-get install postgresql), point DATABASE_URL at a server,\n` +
        `  or run everything with: docker compose up`,
    );
  }
  const dir = path.join(dataDir, 'pg');
  // Postgres refuses to run as root: as root, the cluster belongs to the 'postgres' user.
  const asRoot = process.getuid?.() === 0;
  const runAs = (cmd, args) => (asRoot ? ['runuser', ['-u', 'postgres', '--', cmd, ...args]] : [cmd, args]);
  if (!existsSync(path.join(dir, 'PG_VERSION'))) {
    mkdirSync(dir, { recursive: true });
    if (asRoot) {
      const uid = Number(execFileSync('id', ['-u', 'postgres']).toString().trim());
      const gid = Number(execFileSync('id', ['-g', 'postgres']).toString().trim());
      chownSync(dataDir, uid, gid);
      chownSync(dir, uid, gid);
    }
    say(`initialising a local Postgres cluster in ${path.relative(root, dir)}`);
    const [c, a] = runAs(initdb, ['-D', dir, '-U', 'postgres', '--auth=trust', '-E', 'UTF8']);
    run(c, a, { stdio: 'ignore' });
  }
  say(`starting Postgres on ${host}:${port}`);
  const logFile = path.join(dir, 'server.log');
  const [c, a] = runAs(pgCtl, [
    '-D',
    dir,
    '-l',
    logFile,
    '-o',
    `-p ${port} -k /tmp -c listen_addresses=${host}`,
    'start',
    '-w',
  ]);
  run(c, a);
  started.push({ stop: () => spawnSync(...runAs(pgCtl, ['-D', dir, 'stop', '-m', 'fast']), { stdio: 'ignore' }) });
  await waitFor(host, port, 'Postgres');
  const db = u.pathname.replace(/^\//, '') || 'postgres';
  spawnSync('psql', ['-h', host, '-p', String(port), '-U', 'postgres', '-c', `CREATE DATABASE "${db}"`], {
    stdio: 'ignore',
  });
}

/**
 * The local admin key: made on the first start, kept in .runforge/admin-key (readable by this user
 * only, git-ignored) and handed to the gateway, which stores its hash. RUNFORGE_API_KEY, when set,
 * is used instead (it must be a key the gateway already knows, or a new rf_… secret to store).
 */
function localAdminKey() {
  if (env.RUNFORGE_API_KEY) return { key: env.RUNFORGE_API_KEY, file: undefined };
  const file = path.join(dataDir, 'admin-key');
  if (!existsSync(file)) {
    writeFileSync(file, `rf_${randomBytes(32).toString('base64url')}\n`, { mode: 0o600 });
    say(`created a local admin API key in ${path.relative(root, file)}`);
  }
  return { key: readFileSync(file, 'utf8').trim(), file };
}

/** Prints the URL once the gateway answers ready (not on a timer: a cold build takes longer). */
async function announceWhenReady(url, port, admin) {
  const deadline = Date.now() + 120_000;
  while (Date.now() < deadline) {
    try {
      const res = await fetch(url, { signal: AbortSignal.timeout(2_000) });
      if (res.ok) {
        say(`RunForge is up: http://localhost:${port}  (API under /api, Ctrl-C stops everything)`);
        if (natsSeeds.size > 0) {
          say(
            `NATS runs with a user per service; the operator commands (npm run verify, replay, rebuild) need\n` +
              `  export NATS_URL=${env.NATS_URL} NATS_NKEY_SEED_FILE=${path.relative(root, natsSeeds.get('admin'))}`,
          );
        }
        say(
          `admin API key${admin.file ? ` (kept in ${path.relative(root, admin.file)})` : ''}: ${admin.key}\n` +
            `  export RUNFORGE_API_KEY=${admin.key}\n` +
            `  curl -H "authorization: Bearer $RUNFORGE_API_KEY" http://localhost:${port}/api/runs`,
        );
        return;
      }
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 500));
  }
  say(`the gateway did not answer ${url} within 2 minutes; see its log lines above`);
}

async function main() {
  mkdirSync(dataDir, { recursive: true });
  writeFileSync(path.join(dataDir, '.gitignore'), '*\n');
  if (!existsSync(path.join(root, 'node_modules'))) {
    say('installing dependencies (npm ci)');
    run('npm', ['ci']);
  }
  say('building');
  run('npm', ['run', '--silent', 'build']);
  await ensureNats();
  await ensurePostgres();
  say('migrating read models');
  run('node', ['apps/projection/dist/migrate.js']);
  say('provisioning streams, consumers and buckets');
  run('node', ['apps/projection/dist/cli/provision.js'], { env: { ...env, ...natsEnv('admin') } });

  const admin = localAdminKey();
  env.RUNFORGE_BOOTSTRAP_ADMIN_KEY = admin.key;
  env.RUNFORGE_BOOTSTRAP_ADMIN_NAME ??= 'local-admin';
  const { default: concurrently } = await import('concurrently');
  // Readable lines whatever the terminal (a pipe, an IDE's console, `| tee`); LOG_FORMAT=json for
  // JSON lines. Containers get JSON from the image (Dockerfile: LOG_FORMAT=json), not from sniffing
  // for /.dockerenv here: a developer's workstation may itself be a container.
  const logFormat = env.LOG_FORMAT ?? (env.LOG_PRETTY === '0' ? 'json' : 'pretty');
  const services = ['gateway', 'engine-worker', 'projection', 'scheduler'];
  const gatewayPort = env.GATEWAY_PORT ?? env.PORT ?? '3000';
  // `PORT` is the gateway's here (`PORT=8080 npm start`): inherited by every service, they would all
  // bind it. The others keep their own (ENGINE_WORKER_PORT…, or 3001–3003). concurrently starts
  // each command with this process's environment under its own, hence the delete.
  delete env.PORT;
  delete process.env.PORT;
  const { result, commands } = concurrently(
    services.map((name) => ({
      name,
      command: `node apps/${name}/dist/main.js`,
      env: { ...env, ...(name === 'gateway' ? { PORT: gatewayPort } : {}), ...natsEnv(name), LOG_FORMAT: logFormat },
      cwd: root,
    })),
    { prefix: 'name', prefixColors: ['cyan', 'magenta', 'yellow', 'green'], cwd: root },
  );
  let stopping = false;
  // A service that dies (a crash, a kill -9) is started again, as a supervisor would: the others
  // carry on (a dead worker's run goes to another worker, or to this one once it is back). One that
  // keeps dying — 5 times within a minute — stops everything, saying which.
  const deaths = new Map();
  for (const command of commands) {
    command.close.subscribe(({ exitCode, killed }) => {
      if (stopping) return;
      const recent = [...(deaths.get(command.name) ?? []), Date.now()].filter((t) => Date.now() - t < 60_000);
      deaths.set(command.name, recent);
      if (recent.length >= 5) {
        say(`${command.name} exited ${recent.length} times within a minute (last: ${exitCode}); stopping everything`);
        shutdown();
        return;
      }
      say(`${command.name} exited (${exitCode}${killed ? ', killed' : ''}); starting it again in 1 s`);
      setTimeout(() => {
        if (!stopping) command.start();
      }, 1_000);
    });
  }
  void announceWhenReady(`http://127.0.0.1:${gatewayPort}/health/ready`, gatewayPort, admin);
  // Ctrl-C reaches the services too (same process group) and they shut down gracefully (workers
  // hand their runs back). When the signal reached only this script, or a service lingers, ask with
  // SIGTERM, then insist.
  const shutdown = () => {
    if (stopping) return;
    stopping = true;
    say('stopping…');
    setTimeout(() => {
      for (const c of commands) c.kill('SIGTERM');
    }, 3_000).unref();
    setTimeout(() => {
      for (const c of commands) c.kill('SIGKILL');
    }, 15_000).unref();
  };
  process.on('SIGINT', shutdown);
  process.on('SIGTERM', shutdown);
  try {
    await result;
  } catch {
    /* a service exited non-zero or was interrupted */
  } finally {
    stopHelpers();
  }
}

main().catch((err) => fail(err?.stack ?? String(err)));
