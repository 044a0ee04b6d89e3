import { spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { chownSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { connect as netConnect } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { jetstreamManager } from '@nats-io/jetstream';
import { connect as natsConnect } from '@nats-io/transport-node';
import { Client } from 'pg';
import { eventually } from './eventually';
import { freePort } from './system';

/**
 * Private NATS and Postgres servers for tests and the chaos soak that stop, kill or restart them:
 * the machine's shared servers are never touched. Each keeps its port and data directory across
 * restarts, so the services reconnect to the same address and find their data.
 */

export const NATS_SERVER_BIN = process.env.NATS_SERVER_BIN ?? 'nats-server';
export const PG_BIN = process.env.PG_BIN ?? '/usr/lib/postgresql/15/bin';

/** Whether something accepts TCP connections on the port. */
export const listening = (port: number): Promise<boolean> =>
  new Promise((resolve) => {
    const socket = netConnect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });

/** A child process and its exit, kept so a stop can wait for it. */
interface Running {
  readonly child: ChildProcess;
  readonly exited: Promise<void>;
}

function launch(bin: string, args: readonly string[], opts: SpawnOptions = {}): Running {
  const child = spawn(bin, args, { stdio: 'ignore', ...opts });
  const exited = new Promise<void>((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) resolve();
    else child.once('exit', () => resolve());
  });
  return { child, exited };
}

async function halt(r: Running | undefined, signal: NodeJS.Signals): Promise<void> {
  if (!r || r.child.exitCode !== null || r.child.signalCode !== null) return;
  r.child.kill(signal);
  await r.exited;
}

/** One nats-server with JetStream, alone or a node of a cluster (`PrivateNatsCluster`). */
export class PrivateNats {
  private running?: Running;

  private constructor(
    readonly port: number,
    readonly dir: string,
    private readonly extraArgs: readonly string[],
    readonly name: string,
  ) {}

  /** The server's log file (written when started with a config file). */
  get logFile(): string {
    return path.join(this.dir, 'server.log');
  }

  /** The server's log so far ('' without one). */
  log(): string {
    return existsSync(this.logFile) ? readFileSync(this.logFile, 'utf8') : '';
  }

  get url(): string {
    return `nats://127.0.0.1:${this.port}`;
  }

  get up(): boolean {
    const c = this.running?.child;
    return c !== undefined && c.exitCode === null && c.signalCode === null;
  }

  /**
   * `extraArgs`: cluster flags, for a node of a cluster. `configFile`: a nats-server configuration
   * (e.g. users and permissions, `natsServerConfig`); the port, store directory and JetStream flags
   * given here win over it, and the server logs to `logFile`.
   */
  static async start(
    opts: {
      name?: string;
      port?: number;
      extraArgs?: readonly string[];
      waitReady?: boolean;
      configFile?: string;
    } = {},
  ): Promise<PrivateNats> {
    const dir = mkdtempSync(path.join(tmpdir(), 'rf-nats-'));
    const extraArgs = [...(opts.extraArgs ?? [])];
    if (opts.configFile) extraArgs.push('-c', opts.configFile, '-l', path.join(dir, 'server.log'));
    const nats = new PrivateNats(opts.port ?? (await freePort()), dir, extraArgs, opts.name ?? 'n1');
    await nats.start(opts.waitReady ?? true);
    return nats;
  }

  async start(waitReady = true): Promise<void> {
    if (this.up) return;
    const args = ['-js', '-n', this.name, '-a', '127.0.0.1', '-p', String(this.port), '-sd', this.dir];
    this.running = launch(NATS_SERVER_BIN, [...args, ...this.extraArgs]);
    if (!waitReady) return;
    await eventually(
      `nats-server ${this.name} to listen on :${this.port}`,
      () => listening(this.port),
      (up) => up,
      { timeoutMs: 20_000 },
    );
  }

  /** `SIGKILL` by default: the server gets no chance to flush or say goodbye. */
  stop(signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    return halt(this.running, signal);
  }

  /** SIGSTOP/SIGCONT: a node that hangs (its sockets stay open, nothing answers). */
  pause(paused: boolean): void {
    this.running?.child.kill(paused ? 'SIGSTOP' : 'SIGCONT');
  }

  async destroy(): Promise<void> {
    this.pause(false);
    await this.stop();
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** A 3-node NATS cluster (JetStream clustered: streams with 3 replicas can be created). */
export class PrivateNatsCluster {
  private constructor(readonly nodes: readonly PrivateNats[]) {}

  /** Every node's client URL, comma-separated, as the services' NATS_URL. */
  get url(): string {
    return this.nodes.map((n) => n.url).join(',');
  }

  static async start(size = 3): Promise<PrivateNatsCluster> {
    const clientPorts: number[] = [];
    const routePorts: number[] = [];
    for (let i = 0; i < size; i++) {
      clientPorts.push(await freePort());
      routePorts.push(await freePort());
    }
    const routes = routePorts.map((p) => `nats://127.0.0.1:${p}`).join(',');
    const nodes = await Promise.all(
      clientPorts.map((port, i) =>
        PrivateNats.start({
          name: `n${i + 1}`,
          port,
          waitReady: false,
          extraArgs: ['--cluster_name', 'rf', '--cluster', `nats://127.0.0.1:${routePorts[i]}`, '--routes', routes],
        }),
      ),
    );
    const cluster = new PrivateNatsCluster(nodes);
    await Promise.all(
      nodes.map((n) =>
        eventually(
          `cluster node ${n.name} to listen`,
          () => listening(n.port),
          (up) => up,
          { timeoutMs: 20_000 },
        ),
      ),
    );
    // The routes form and JetStream elects its meta leader a few seconds after the nodes listen:
    // until then a stream cannot be created.
    await eventually(
      "the cluster's JetStream to answer",
      async () => {
        const nc = await natsConnect({ servers: clientPorts.map((p) => `nats://127.0.0.1:${p}`) });
        try {
          await jetstreamManager(nc, { timeout: 2000 });
          return true;
        } finally {
          await nc.close();
        }
      },
      (ok) => ok,
      { timeoutMs: 60_000, intervalMs: 250 },
    );
    return cluster;
  }

  node(name: string): PrivateNats | undefined {
    return this.nodes.find((n) => n.name === name);
  }

  async destroy(): Promise<void> {
    await Promise.all(this.nodes.map((n) => n.destroy()));
  }
}

/**
 * A private Postgres cluster (initdb in a temp dir, its own port, trust auth, fsync off: a test
 * server). As root, the server runs as the `postgres` user (initdb refuses root); set
 * PG_RUN_AS_UID / PG_RUN_AS_GID to choose another.
 */
export class PrivatePostgres {
  private running?: Running;

  private constructor(
    readonly port: number,
    readonly dir: string,
    private readonly ids: { uid?: number; gid?: number },
  ) {}

  get url(): string {
    return `postgres://postgres@127.0.0.1:${this.port}/postgres`;
  }

  get up(): boolean {
    const c = this.running?.child;
    return c !== undefined && c.exitCode === null && c.signalCode === null;
  }

  static async start(): Promise<PrivatePostgres> {
    const dir = mkdtempSync(path.join(tmpdir(), 'rf-pg-'));
    const root = process.getuid?.() === 0;
    const ids = root
      ? { uid: Number(process.env.PG_RUN_AS_UID ?? 101), gid: Number(process.env.PG_RUN_AS_GID ?? 104) }
      : {};
    const data = path.join(dir, 'data');
    mkdirSync(data);
    if (root) {
      chownSync(dir, ids.uid as number, ids.gid as number);
      chownSync(data, ids.uid as number, ids.gid as number);
    }
    const init = launch(
      path.join(PG_BIN, 'initdb'),
      ['-D', data, '-U', 'postgres', '--auth=trust', '-E', 'UTF8', '--no-sync'],
      { ...ids, env: { ...process.env, LC_ALL: 'C' } },
    );
    await init.exited;
    if (init.child.exitCode !== 0) throw new Error(`initdb failed with code ${init.child.exitCode} in ${data}`);
    const pg = new PrivatePostgres(await freePort(), dir, ids);
    await pg.start();
    return pg;
  }

  async start(): Promise<void> {
    if (this.up) return;
    this.running = launch(
      path.join(PG_BIN, 'postgres'),
      [
        '-D',
        path.join(this.dir, 'data'),
        '-p',
        String(this.port),
        '-k',
        this.dir,
        '-c',
        'listen_addresses=127.0.0.1',
        '-c',
        'fsync=off',
        '-c',
        'max_connections=200',
      ],
      this.ids,
    );
    await eventually(
      `the private Postgres to accept connections on :${this.port}`,
      async () => {
        const c = new Client({ connectionString: this.url });
        await c.connect();
        await c.end();
        return true;
      },
      (ok) => ok,
      { timeoutMs: 30_000, intervalMs: 100 },
    );
  }

  /**
   * `fast` (SIGINT) ends every session and shuts down cleanly; `immediate` (SIGQUIT) is a crash
   * (recovery at the next start).
   */
  stop(mode: 'fast' | 'immediate' = 'fast'): Promise<void> {
    return halt(this.running, mode === 'fast' ? 'SIGINT' : 'SIGQUIT');
  }

  async restart(mode: 'fast' | 'immediate' = 'fast'): Promise<void> {
    await this.stop(mode);
    await this.start();
  }

  async destroy(): Promise<void> {
    await this.stop('immediate');
    rmSync(this.dir, { recursive: true, force: true });
  }
}
