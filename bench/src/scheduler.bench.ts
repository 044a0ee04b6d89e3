import { TestBus } from '../../test/support/bus';
/**
 * Scheduler tick cost against the real Postgres and NATS, in an isolated namespace + schema:
 *  1. idle ticks over N schedules (nothing due): the per-second cost of re-reading every schedule;
 *  2. a burst: all N schedules due at the same instant, decided by two replicas racing — fires/s,
 *     and a check that the stream holds exactly one `RunRequested` per fire.
 * `BENCH_SCHEDULES` (default 2000).
 */
import { randomBytes } from 'node:crypto';
import { topology } from '@runforge/contracts';
import { connectNats, provisionTopology } from '@runforge/messaging';
import { dataSourceOptions, runMigrations } from '@runforge/read-models';
import { ScheduleTicker, type FireDeps } from '@runforge/scheduling';
import { DataSource } from 'typeorm';
import { v7 as uuidv7 } from 'uuid';
import { removeNamespace } from '../../test/support/system';

const NATS_URL = process.env.NATS_URL ?? 'nats://127.0.0.1:4222';
const DATABASE_URL = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const N = Number(process.env.BENCH_SCHEDULES ?? 2000);
const ns = `b${randomBytes(4).toString('hex')}`;
const schema = `rf_${ns}`;
const t = topology(ns);

const TEMPLATE = {
  kind: 'backtest',
  strategy: 'sma-crossover',
  params: { fast: 5, slow: 20 },
  dataset: { synthetic: { bars: 500, seed: 1, timeframe: '1h' } },
};

async function main(): Promise<void> {
  await runMigrations({ databaseUrl: DATABASE_URL, dbSchema: schema });
  const replicas: { deps: FireDeps; ticker: ScheduleTicker; close: () => Promise<void> }[] = [];
  for (const name of ['bench-a', 'bench-b']) {
    const nc = await connectNats(NATS_URL, name);
    const jsm = await provisionTopology(nc, t);
    const db = new DataSource({
      ...dataSourceOptions({ databaseUrl: DATABASE_URL, dbSchema: schema }),
      extra: { max: 4 },
    });
    await db.initialize();
    const bus = new TestBus(nc, jsm, t);
    const deps: FireDeps = { db, client: bus.client, reader: bus.reader, instanceId: name };
    replicas.push({
      deps,
      ticker: new ScheduleTicker(deps),
      close: async () => (await db.destroy(), await nc.close()),
    });
  }
  const [a, b] = replicas as [(typeof replicas)[0], (typeof replicas)[0]];
  try {
    // Half hourly-at-:00, half daily 10:00 Amsterdam; cursors just before 2026-06-01T10:00Z.
    const cursor = new Date('2026-06-01T09:59:00Z');
    const values: unknown[] = [];
    const rows: string[] = [];
    for (let i = 0; i < N; i += 1) {
      const p = values.length;
      rows.push(
        `($${p + 1}, $${p + 2}, $${p + 3}, $${p + 4}, 'allow', 0, $${p + 5}, false, $${p + 6}, $${p + 6}, $${p + 6})`,
      );
      values.push(
        uuidv7(),
        `s${i}`,
        i % 2 ? '0 * * * *' : '0 12 * * *',
        i % 2 ? 'UTC' : 'Europe/Amsterdam',
        JSON.stringify(TEMPLATE),
        cursor,
      );
      if (values.length > 6_000 || i === N - 1) {
        await a.deps.db.query(
          `INSERT INTO "${schema}".schedules (id, name, cron, timezone, overlap_policy, catchup_window_seconds, template, paused,
             evaluated_until, created_at, updated_at) VALUES ${rows.join(',')}`,
          values,
        );
        values.length = 0;
        rows.length = 0;
      }
    }

    const idleTicks = 20;
    let t0 = performance.now();
    for (let i = 0; i < idleTicks; i += 1) await a.ticker.tick(new Date(cursor.getTime() + 1_000 + i * 1_000));
    const idleMs = (performance.now() - t0) / idleTicks;

    const fireAt = new Date('2026-06-01T10:00:01Z');
    t0 = performance.now();
    const [ra, rb] = await Promise.all([a.ticker.tick(fireAt), b.ticker.tick(fireAt)]);
    const burstMs = performance.now() - t0;
    const decided = ra.decided.length + rb.decided.length;
    const info = await a.deps.reader.jsm.streams.info(t.streams.runs.name);
    const errors = ra.errors.length + rb.errors.length;

    console.log(`schedules: ${N} (half '0 * * * *' UTC, half '0 12 * * *' Europe/Amsterdam)`);
    console.log(`idle tick (nothing due), one replica: ${idleMs.toFixed(1)} ms`);
    console.log(
      `burst: ${decided} fires due at once, two replicas racing: ${burstMs.toFixed(0)} ms → ${Math.round((decided / burstMs) * 1000)} fires/s; ` +
        `claims: a ${ra.decided.length}, b ${rb.decided.length}; lost claims ${ra.alreadyDecided + rb.alreadyDecided}; errors ${errors}`,
    );
    console.log(`RunRequested in the stream: ${info.state.messages} (expected ${decided}, one per fire)`);
    if (info.state.messages !== decided || errors > 0 || decided !== N) process.exitCode = 1;
  } finally {
    await removeNamespace(a.deps.reader.jsm, a.deps.db, ns, schema);
    for (const r of replicas) await r.close();
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
