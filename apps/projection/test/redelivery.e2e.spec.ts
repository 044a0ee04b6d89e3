import { TestBus } from '../../../test/support/bus';
import { jetstreamManager, type JetStreamManager } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/nats-core';
import { connect } from '@nats-io/transport-node';

import { Client } from 'pg';
import { eventually } from '../../../test/support/eventually';
import { DATABASE_URL, http, NATS_URL, TestSystem, type ServiceProcess } from '../../../test/support/system';
import { verifyReadModels } from '../src/rebuild/verify';
import { WRITE_FENCE_LOCK } from '../src/runs/projection.consumer';
import { eventPublisher } from './crafted-history';

jest.setTimeout(60_000);

/**
 * The live projection while its batches are held past the ack wait (seen after a restart: a batch
 * stuck ~90 s). NATS then redelivers what the held batch holds, in between newer events. Batches
 * mixing both once folded a run's end before outcomes it must count, and acked a batch whose last
 * arrival was an old redelivery without applying it: ~8,900 trials were lost from the read model.
 */
describe('projection: batches held past the ack wait, redeliveries in between newer events', () => {
  let sys: TestSystem;
  let projection: ServiceProcess;
  let nc: NatsConnection;
  let jsm: JetStreamManager;

  beforeAll(async () => {
    sys = await TestSystem.start(['projection'], { PROJECTION_ACK_WAIT_SECONDS: '1' });
    projection = sys.processes[0] as ServiceProcess;
    nc = await connect({ servers: NATS_URL });
    jsm = await jetstreamManager(nc);
  });

  afterAll(async () => {
    await nc?.close();
    await sys?.stop();
  });

  const lag = async (): Promise<{ streamSeq: number; lag: number }> =>
    (await http<{ streamSeq: number; lag: number }>(projection.url, 'GET', '/projection/lag')).body;

  it('counts every outcome once, ends the run after them, and equals the replayed stream', async () => {
    const { topology, schema } = sys.iso;
    const { pub, count } = eventPublisher(new TestBus(nc, jsm, topology));
    const runId = 'redelivered-opt';
    const batches = 40;
    const perBatch = 5;
    await pub('RunRequested', runId, 0, 0, {
      kind: 'optimization',
      request: {
        strategy: 'sma-crossover',
        axes: { fast: { min: 1, max: batches * perBatch, step: 1 }, slow: [500] },
        dataset: { synthetic: { bars: 1000, seed: 1, timeframe: '1h' } },
      },
      totalBars: 1000,
      totalCombinations: batches * perBatch,
      triggeredBy: 'api',
    });
    await pub('RunStarted', runId, 1, 1, { workerId: 'w1', totalBars: 1000 });
    await eventually('the projection to apply the run’s start', lag, (l) => l.streamSeq === 2 && l.lag === 0);

    // Hold the write fence, as a rebuild's swap does: every batch waits, past the 1 s ack wait.
    const fence = new Client({ connectionString: DATABASE_URL });
    await fence.connect();
    try {
      await fence.query('BEGIN');
      await fence.query('SELECT pg_advisory_xact_lock($1, hashtext($2))', [WRITE_FENCE_LOCK, schema]);
      // Outcomes keep coming while the batches wait, so NATS redelivers the held ones in between.
      for (let b = 0; b < batches; b++) {
        const outcomes = Array.from({ length: perBatch }, (_, k) => {
          const index = b * perBatch + k;
          return {
            status: 'Completed' as const,
            trialId: `${runId}-t${index}`,
            index,
            params: { fast: index + 1, slow: 500 },
            metrics: { sharpe: index },
            score: index,
            durationMs: 1,
            workerId: 'w1',
          };
        });
        await pub('TrialsRecorded', runId, 1, 2 + b * 0.05, { outcomes });
        await new Promise((r) => setTimeout(r, 50)); // the pace of a worker's outcome flushes
      }
      await pub('RunCompleted', runId, 1, 5, {
        durationMs: 4000,
        completedCombinations: batches * perBatch,
        failedCombinations: 0,
        result: { objective: { metric: 'sharpe', direction: 'maximize' }, best: null, top: [], failures: [] },
      });
      const durable = topology.consumers.projection;
      await eventually(
        'NATS to redeliver events of the held batches',
        () => jsm.consumers.info(durable.stream, durable.durable),
        (i) => i.num_redelivered > 0,
        { timeoutMs: 10_000 },
      );
    } finally {
      await fence.query('COMMIT');
      await fence.end();
    }

    await eventually('the projection to catch up', lag, (l) => l.streamSeq === count() && l.lag === 0, {
      timeoutMs: 20_000,
    });
    const pg = new Client({ connectionString: DATABASE_URL });
    await pg.connect();
    try {
      const run = await pg.query<{ status: string; completed_combinations: number }>(
        `SELECT status, completed_combinations FROM "${schema}".runs WHERE id = $1`,
        [runId],
      );
      expect(run.rows[0]).toEqual({ status: 'Completed', completed_combinations: batches * perBatch });
      const trials = await pg.query<{ n: string }>(`SELECT count(*) AS n FROM "${schema}".trials WHERE run_id = $1`, [
        runId,
      ]);
      expect(trials.rows[0]?.n).toBe(String(batches * perBatch));
    } finally {
      await pg.end();
    }
    const report = await verifyReadModels({ databaseUrl: DATABASE_URL, dbSchema: schema, topology }, nc);
    expect(report.differences).toEqual([]);
  });
});
