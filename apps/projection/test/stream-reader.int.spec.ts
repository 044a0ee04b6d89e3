import { TestBus } from '../../../test/support/bus';
import type { JetStreamManager } from '@nats-io/jetstream';
import type { NatsConnection, Subscription } from '@nats-io/nats-core';
import { boundedFetchSize, connectNats, FETCH_WINDOW_BYTES, provisionTopology } from '@runforge/messaging';
import { eventually } from '../../../test/support/eventually';
import { cleanupIsolation, DATABASE_URL, NATS_URL, newIsolation, type Isolation } from '../../../test/support/system';
import { rebuildReadModels } from '../src/rebuild/rebuild';
import { readStream, STREAM_READ_ERROR_CODES, StreamReadError, type ReadLimits } from '@runforge/messaging';
import { verifyReadModels } from '../src/rebuild/verify';
import { publishLargeHistory, type LargeHistory } from './large-history';

/**
 * The verify/rebuild stream reader against the real NATS and Postgres, on a stream whose bytes are
 * mostly large `TrialsRecorded` events. Reading it used to hang once the stream outgrew the
 * server's per-client max_pending (64 MB): the reader asked for thousands of events at once. Here
 * the stream is ~8 MB and the read window 2 MiB (two events of the server's 1 MB max_payload), so
 * the same ratio of stream to window is exercised in a second or two.
 */

const MiB = 1024 * 1024;

describe('stream reader: bounded, stall-detecting reads of RUNS (real NATS + Postgres)', () => {
  let iso: Isolation;
  let nc: NatsConnection;
  let jsm: JetStreamManager;
  let history: LargeHistory;
  let head: number;
  let streamBytes: number;
  let stream: string;
  /** The largest event the server accepts: a fetch of n events may bring n times this. */
  let maxPayload: number;
  const small: Partial<ReadLimits> = { maxPendingBytes: 2 * MiB, batchBytes: 512 * 1024, stallMs: 2000 };

  const readerConsumers = async (): Promise<{ name: string; inactiveSeconds: number }[]> => {
    const out: { name: string; inactiveSeconds: number }[] = [];
    for await (const c of jsm.consumers.list(stream)) {
      out.push({ name: c.name, inactiveSeconds: (c.config.inactive_threshold ?? 0) / 1e9 });
    }
    return out;
  };

  /** Records every pull request sent for this stream, as the server receives it. */
  const snoopPulls = (): { sub: Subscription; requests: { batch: number }[] } => {
    const requests: { batch: number }[] = [];
    const sub = nc.subscribe(`$JS.API.CONSUMER.MSG.NEXT.${stream}.>`, {
      callback: (_err, m) => {
        requests.push(m.json<{ batch: number }>());
      },
    });
    return { sub, requests };
  };

  beforeAll(async () => {
    iso = newIsolation();
    stream = iso.topology.streams.runs.name;
    nc = await connectNats(NATS_URL, 'stream-reader-int');
    jsm = await provisionTopology(nc, iso.topology);
    history = await publishLargeHistory(new TestBus(nc, jsm, iso.topology), 'sr', {
      runs: 3,
      trialEventsPerRun: 8,
      outcomesPerEvent: [5, 10, 20, 40, 80, 40, 20, 30],
      stackChars: 10_000,
      smallEventsPerRun: 60,
    });
    const state = (await jsm.streams.info(stream)).state;
    head = state.last_seq;
    streamBytes = state.bytes;
    maxPayload = nc.info?.max_payload ?? MiB;
  });

  afterAll(async () => {
    await nc?.close();
    if (iso) await cleanupIsolation(iso);
  });

  it('reads every event once and in order through pull requests that never ask for more than the window', async () => {
    expect(head).toBe(history.count);
    expect(streamBytes).toBeGreaterThan(3 * (small.maxPendingBytes ?? 0));
    const snoop = snoopPulls();
    const seqs: number[] = [];
    const types = new Map<string, number>();
    const result = await readStream(
      nc,
      iso.topology,
      { fromSeq: 1, untilSeq: head, batchSize: 40, limits: small },
      (batch, lastSeq) => {
        expect(batch.length).toBeLessThanOrEqual(40);
        for (const m of batch) {
          seqs.push(m.seq);
          types.set(m.event.type, (types.get(m.event.type) ?? 0) + 1);
        }
        expect(lastSeq).toBe(batch[batch.length - 1]?.seq ?? lastSeq);
        return Promise.resolve();
      },
    );
    snoop.sub.unsubscribe();

    expect(result).toEqual({ lastSeq: head, read: head, skipped: 0 });
    expect(seqs).toEqual(Array.from({ length: head }, (_, i) => i + 1));
    expect(types.get('TrialsRecorded')).toBe(3 * 8);
    // Bounded: no request could bring more than the window, even of events as large as the server
    // allows, so it took many of them to move the stream.
    expect(snoop.requests.length).toBeGreaterThan(head / 2);
    for (const r of snoop.requests) expect(r.batch * maxPayload).toBeLessThanOrEqual(small.maxPendingBytes ?? 0);
    expect(await readerConsumers()).toEqual([]);
  });

  it("reads a run's history (audit, takeover) in fetches that could never bring more than the window", async () => {
    const runId = history.runIds[0] as string;
    const snoop = snoopPulls();
    const events = await new TestBus(nc, jsm, iso.topology).history(runId);
    snoop.sub.unsubscribe();
    const size = boundedFetchSize(FETCH_WINDOW_BYTES, maxPayload);
    expect(events.length).toBeGreaterThan(size);
    expect(events.map((e) => e.event.runId)).toEqual(events.map(() => runId));
    expect(events.map((e) => e.seq)).toEqual([...events.map((e) => e.seq)].sort((a, b) => a - b));
    expect(events.filter((e) => e.event.type === 'TrialsRecorded')).toHaveLength(8);
    expect(snoop.requests.length).toBeGreaterThanOrEqual(Math.ceil(events.length / size));
    for (const r of snoop.requests) expect(r.batch * maxPayload).toBeLessThanOrEqual(FETCH_WINDOW_BYTES);
  });

  it('rebuilds and verifies a stream many times the read window, leaving no consumer behind', async () => {
    const target = { databaseUrl: DATABASE_URL, dbSchema: iso.schema, topology: iso.topology };
    const stats = await rebuildReadModels(target, { nc, jsm }, { batchSize: 2000, limits: small });
    expect(stats).toMatchObject({ events: head, skipped: 0, lastSeq: head, runs: 3 });

    const report = await verifyReadModels(target, nc, { limits: small });
    expect(report).toMatchObject({ checkpoint: head, events: head, runs: 3 });
    expect(report.differences).toEqual([]);
    expect(await readerConsumers()).toEqual([]);
  });

  it('fails with the stream, the sequence reached and the cause when the connection closes mid-read', async () => {
    const reader = await connectNats(NATS_URL, 'stream-reader-int-closing');
    let batches = 0;
    let handed = 0;
    const read = readStream(
      reader,
      iso.topology,
      { fromSeq: 1, untilSeq: head, batchSize: 20, limits: { ...small, inactiveThresholdMs: 2000 } },
      async (_batch, lastSeq) => {
        batches += 1;
        handed = lastSeq;
        if (batches === 2) await reader.close();
      },
    );
    const err = await read.then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(StreamReadError);
    const e = err as StreamReadError;
    expect(e.code).toBe(STREAM_READ_ERROR_CODES.CONNECTION_CLOSED);
    expect(e.reachedSeq).toBeGreaterThanOrEqual(handed);
    expect(e.reachedSeq).toBeLessThan(head);
    expect(e.message).toMatch(
      new RegExp(
        `^reading stream ${stream} \\(sequences 1\\.\\.${head}\\) stopped at sequence ${e.reachedSeq} .*the NATS connection closed`,
      ),
    );

    // The consumer could not be deleted over a closed connection: the server drops it once idle.
    const left = await readerConsumers();
    expect(left).toHaveLength(1);
    expect(left[0]?.inactiveSeconds).toBe(2);
    await eventually('the server to remove the dead reader’s consumer', readerConsumers, (cs) => cs.length === 0, {
      timeoutMs: 20_000,
      intervalMs: 200,
    });
  });

  it('when its consumer is deleted mid-read, fails within the stall bound saying so, or carries on in order', async () => {
    // NATS 2.9 never answers a pull of a deleted consumer, so the read stalls and says why; newer
    // servers answer "consumer deleted", after which the ordered consumer re-creates itself.
    let batches = 0;
    const seqs: number[] = [];
    const read = readStream(
      nc,
      iso.topology,
      { fromSeq: 1, untilSeq: head, batchSize: 20, limits: small },
      async (batch) => {
        seqs.push(...batch.map((m) => m.seq));
        batches += 1;
        if (batches !== 2) return;
        const [reader] = await readerConsumers();
        // Without one to delete, the test would pass on the plain read below: fail the read instead.
        if (!reader) throw new Error('no reader consumer to delete mid-read');
        await jsm.consumers.delete(stream, reader.name);
      },
    );
    const outcome = await read.then(
      (r) => r,
      (e: unknown) => e,
    );
    if (outcome instanceof StreamReadError) {
      expect(outcome.code).toBe(STREAM_READ_ERROR_CODES.STALLED);
      expect(outcome.message).toMatch(
        new RegExp(
          `^reading stream ${stream} .*stopped at sequence ${outcome.reachedSeq} .*its consumer no longer exists on the server`,
        ),
      );
      // STALLED (not a hang until the test's timeout): the read gave up on its own stall bound.
      expect(outcome.reachedSeq).toBeLessThan(head);
    } else {
      expect(outcome).toEqual({ lastSeq: head, read: head, skipped: 0 });
      expect(seqs).toEqual(Array.from({ length: head }, (_, i) => i + 1));
    }
    expect(await readerConsumers()).toEqual([]);
  });
});
