/**
 * The floor (bench:throughput, BENCH_FLOOR=0 skips it): what the parts a RunForge job is made of
 * cost on this machine, measured in the same run as the system, each with 8 operations in flight:
 *   - one HTTP request: a JSON POST answered 202 by bare Fastify in its own process (no Nest, auth,
 *     validation or telemetry), sent with fetch as the bench's clients send theirs;
 *   - one JetStream publish, acknowledged, of a 300-byte event to a file-backed stream;
 *   - one JetStream delivery of such a message to a pull consumer, acknowledged;
 *   - one Postgres transaction inserting a 300-byte JSON row, as one simple query.
 * Each figure is CPU ms per operation summed over the client (this process) and the server's
 * processes (Fastify's, every nats-server, every postgres): on 2 saturated cores, 2,000 ms of CPU
 * per second is all there is, so a job that needs these parts can go no faster than
 * 2,000 ÷ (the sum of its parts' CPU) per second, before any of RunForge's own work.
 */
import { fork } from 'node:child_process';
import path from 'node:path';
import { connect } from '@nats-io/transport-node';
import { AckPolicy, jetstream, jetstreamManager, StorageType } from '@nats-io/jetstream';
import { Pool } from 'pg';
import { CpuMeter, pidsNamed } from './cpu';

export interface FloorFigures {
  /** CPU ms per operation, client + server. */
  readonly httpPost: number;
  readonly jsPublish: number;
  readonly jsDelivery: number;
  readonly pgTransaction: number;
}

const IN_FLIGHT = 8;
const BODY = JSON.stringify({
  type: 'RunLogged',
  version: 1,
  runId: '019af3c2-7d4e-7b1a-9c55-3f0e6a1b2c3d',
  attempt: 1,
  occurredAt: '2026-12-06T17:00:00.000Z',
  data: { level: 'INFO', message: 'backtest started: sma-crossover over 1000 bars', context: { workerId: 'w-1' } },
}).padEnd(300, ' ');

/** CPU ms `work` takes, summed over this process (the client) and the servers' processes. */
async function cpuMsOf(servers: Record<string, () => number[]>, work: () => Promise<void>): Promise<number> {
  const meter = new CpuMeter(servers);
  const client = process.cpuUsage();
  meter.start();
  await work();
  const used = meter.stop();
  const own = process.cpuUsage(client);
  return (Object.values(used).reduce((a, b) => a + b, 0) + (own.user + own.system) / 1e6) * 1000;
}

/** CPU ms per operation of `ops` operations run IN_FLIGHT at a time, client (this process) + servers. */
async function perOp(ops: number, servers: Record<string, () => number[]>, op: (i: number) => Promise<unknown>) {
  let next = 0;
  const ms = await cpuMsOf(servers, async () => {
    await Promise.all(
      Array.from({ length: IN_FLIGHT }, async () => {
        while (next < ops) await op(next++);
      }),
    );
  });
  return ms / ops;
}

async function httpFloor(ops: number): Promise<number> {
  const server = fork(path.join(__dirname, 'floor-http-server.js'), [], { stdio: 'ignore' });
  try {
    const port = await new Promise<number>((resolve, reject) => {
      server.once('message', (p) => resolve(Number(p)));
      server.once('exit', (code) => reject(new Error(`floor http server exited ${code}`)));
    });
    const post = () =>
      fetch(`http://127.0.0.1:${port}/jobs`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: 'Bearer rf_x' },
        body: BODY,
      }).then((r) => r.text());
    for (let i = 0; i < 200; i++) await post(); // warm up both sides' JIT
    return await perOp(ops, { server: () => [server.pid ?? -1] }, post);
  } finally {
    server.kill();
  }
}

async function natsFloor(url: string, ops: number): Promise<{ publish: number; delivery: number }> {
  const nc = await connect({ servers: url, noAsyncTraces: true });
  const jsm = await jetstreamManager(nc);
  const stream = `FLOOR_${process.pid}`;
  const subject = `floor${process.pid}`;
  await jsm.streams.add({ name: stream, subjects: [`${subject}.>`], storage: StorageType.File });
  try {
    const js = jetstream(nc);
    const payload = new TextEncoder().encode(BODY);
    const servers = { 'nats-server': () => pidsNamed('nats-server') };
    for (let i = 0; i < 200; i++) await js.publish(`${subject}.warm`, payload, { msgID: `warm-${i}` });
    const publish = await perOp(ops, servers, (i) => js.publish(`${subject}.${i % 64}`, payload, { msgID: `m-${i}` }));
    await jsm.consumers.add(stream, {
      durable_name: 'floor',
      ack_policy: AckPolicy.Explicit,
      filter_subject: `${subject}.>`,
    });
    const consumer = await js.consumers.get(stream, 'floor');
    const total = ops + 200;
    // Pulled in batches and acked one by one, as the workers' and the projection's consumers do.
    const ms = await cpuMsOf(servers, async () => {
      const messages = await consumer.consume({ max_messages: 256 });
      let seen = 0;
      for await (const m of messages) {
        m.ack();
        if (++seen >= total) break;
      }
      await nc.flush();
    });
    const delivery = ms / total;
    return { publish, delivery };
  } finally {
    await jsm.streams.delete(stream).catch(() => undefined);
    await nc.drain();
  }
}

async function pgFloor(databaseUrl: string, ops: number): Promise<number> {
  const pool = new Pool({ connectionString: databaseUrl, max: IN_FLIGHT });
  const schema = `floor_${process.pid}`;
  await pool.query(`CREATE SCHEMA ${schema}; CREATE TABLE ${schema}.rows (id bigint PRIMARY KEY, body jsonb NOT NULL)`);
  try {
    const body = BODY.replace(/'/g, "''").trimEnd();
    const insert = (i: number) => pool.query(`BEGIN; INSERT INTO ${schema}.rows VALUES (${i}, '${body}'); COMMIT`);
    // Open every connection and warm up before measuring (a new backend's start is not per job).
    await Promise.all(Array.from({ length: IN_FLIGHT }, (_, k) => insert(-1 - k)));
    for (let i = 0; i < 200; i++) await insert(1_000_000 + i);
    return await perOp(ops, { postgres: () => pidsNamed('postgres') }, insert);
  } finally {
    await pool.query(`DROP SCHEMA ${schema} CASCADE`).catch(() => undefined);
    await pool.end();
  }
}

export async function measureFloor(natsUrl: string, databaseUrl: string, ops = 4000): Promise<FloorFigures> {
  const httpPost = await httpFloor(ops);
  const { publish, delivery } = await natsFloor(natsUrl, ops);
  const pgTransaction = await pgFloor(databaseUrl, ops);
  return { httpPost, jsPublish: publish, jsDelivery: delivery, pgTransaction };
}
