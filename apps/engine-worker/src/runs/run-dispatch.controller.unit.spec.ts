import type { EnergySolverThread } from '../energy/solver-thread';
import type { EnergyPositions, EnergySourceStore } from '@runforge/datasets';
import { ProgramKindsCatalog } from './program-kinds.catalog';
import { Logger } from '@nestjs/common';
import type { JsMsg } from '@nats-io/jetstream';
import { headers as natsHeaders, type MsgHdrs } from '@nats-io/nats-core';
import {
  BacktestRequestSchema,
  CONSUMER_SETTINGS,
  createEvent,
  decodeEvent,
  eventDefinition,
  isRunEnd,
  topology,
  type EventDataInput,
  type RunEvent,
  type RunEventType,
} from '@runforge/contracts';
import type { DatasetStore } from '@runforge/datasets';
import {
  JetStreamContext,
  type JetStreamClient,
  type PublishOptions,
  type StoredRunEvent,
  type StreamReader,
} from '@runforge/messaging';
import type { Messaging, RunForgeConfig } from '@runforge/service';
import type { OptimizationCoordinator } from '../optimizations/optimization.coordinator';
import { BarsCache } from './bars-cache';
import { RunDispatchController } from './run-dispatch.controller';
import { RunSignals, stopOfAbortPush } from './run-signals.service';

// The dispatch handler with its edges faked by hand: the run's stream (an in-memory list of stored events),
// core NATS (publishes recorded), and the dispatch delivery (a JetStream message whose settlement is
// recorded). Signals, contexts and the engine are the real ones.

const RUN = 'run-1';
Logger.overrideLogger(false); // the worker's warnings are expected here
const T = topology('unit');

/** The RUNS stream of one test: what the worker reads and what it publishes. */
class FakeRunStream {
  readonly stored: StoredRunEvent[] = [];
  /** Called after each publish (a test's way to make something happen meanwhile). */
  onPublish: (event: RunEvent) => void = () => undefined;

  append(event: RunEvent): void {
    const checked = decodeEvent(JSON.parse(JSON.stringify(event)));
    this.stored.push({
      seq: this.stored.length + 1,
      storedAt: new Date(0).toISOString(),
      subject: T.runSubject(checked.runId, eventDefinition(checked.type).token),
      event: checked,
    });
  }

  /** The slice of the transport's client the worker publishes with. */
  readonly client = {
    publishEvent: (event: RunEvent, _opts?: PublishOptions): Promise<void> => {
      this.append(event);
      this.onPublish(event);
      return Promise.resolve();
    },
  };

  /** The slice of the stream reader the worker reads with. */
  readonly reader = {
    lastOfType: (runId: string, type: RunEventType): Promise<StoredRunEvent | undefined> =>
      Promise.resolve(this.stored.filter((s) => s.event.runId === runId && s.event.type === type).at(-1)),
    readHistory: (runId: string, onEvent: (e: StoredRunEvent) => void, type?: RunEventType): Promise<number> => {
      const wanted = this.stored.filter((s) => s.event.runId === runId && (!type || s.event.type === type));
      for (const s of wanted) onEvent(s);
      return Promise.resolve(wanted.length);
    },
  };

  /** The run's events after its request, as [type, attempt, data]. */
  published(): [string, number, unknown][] {
    return this.stored
      .filter((s) => s.event.type !== 'RunRequested')
      .map((s) => [s.event.type, s.event.attempt, s.event.data]);
  }
}

/** Core NATS: what was published (the stop pushes). */
class FakeNats {
  readonly pushes: { subject: string; data: string; headers?: MsgHdrs }[] = [];
  publish(subject: string, data: string, opts?: { headers?: MsgHdrs }): void {
    this.pushes.push({ subject, data, headers: opts?.headers });
  }
}

/** One delivery of the run's dispatch (as the transport hands it over), recording how it was settled. */
function delivery(deliveryCount: number): { msg: JetStreamContext; settled: string[] } {
  const settled: string[] = [];
  const msg = {
    subject: T.runDispatchSubject('normal'),
    headers: natsHeaders(),
    info: { deliveryCount, redelivered: deliveryCount > 1, consumer: 'engine-normal' },
    json: () => ({ type: 'RunDispatch', version: 1, runId: RUN, kind: 'backtest', priority: 'normal' }),
    working: () => undefined,
    ack: () => void settled.push('ack'),
    ackAck: () => {
      settled.push('ack');
      return Promise.resolve(true);
    },
    nak: () => void settled.push('nak'),
    // The server is sent a plain TERM (NATS 2.9 ignores one with a reason): the reason stays on the context.
    term: (reason?: string) => void settled.push(reason === undefined ? 'term' : `term: ${reason}`),
  };
  const ctx = new JetStreamContext(msg as unknown as JsMsg, false, {
    pullAhead: () => undefined,
    onSettled: () => undefined,
  });
  return { msg: ctx, settled };
}

const DISPATCH = { type: 'RunDispatch', version: 1, runId: RUN, kind: 'backtest', priority: 'normal' } as const;

class TestableController extends RunDispatchController {
  deliver(ctx: JetStreamContext): Promise<void> {
    return this.handleDispatch(DISPATCH, ctx);
  }
}

function setup(maxRetries: number) {
  const stream = new FakeRunStream();
  const nats = new FakeNats();
  const messaging = { nc: nats } as unknown as Messaging;
  const cfg = { instanceId: 'engine-worker-unit-1', progressIntervalMs: 250, topology: T } as RunForgeConfig;
  const signals = new RunSignals(messaging, cfg);
  const consumer = new TestableController(
    stream.client as unknown as JetStreamClient,
    stream.reader as unknown as StreamReader,
    signals,
    // Synthetic bars only: the dataset store is never asked.
    new BarsCache({} as DatasetStore),
    {} as OptimizationCoordinator, // backtests only
    new ProgramKindsCatalog(),
    {} as EnergySourceStore, // backtests only
    {} as EnergyPositions,
    {} as EnergySolverThread,
    cfg,
  );
  const request = BacktestRequestSchema.parse({
    strategy: 'sma-crossover',
    params: { fast: 5, slow: 20 },
    dataset: { synthetic: { bars: 2_000, seed: 1, timeframe: '1h' } },
    maxRetries,
  });
  stream.append(
    createEvent('RunRequested', at(0), { kind: 'backtest', request, totalBars: 2_000, triggeredBy: 'api' }),
  );
  return { stream, nats, signals, consumer };
}

function at(attempt: number): { runId: string; attempt: number; occurredAt: string } {
  return { runId: RUN, attempt, occurredAt: new Date(0).toISOString() };
}

/** Earlier deliveries handed back by workers shutting down (no failed attempt among them). */
function handedBack(stream: FakeRunStream, attempts: number): void {
  for (let a = 1; a <= attempts; a++) {
    const data: EventDataInput<'RunAttemptAbandoned'> = { abandonedAttempt: a, reason: 'shutdown' };
    stream.append(createEvent('RunAttemptAbandoned', at(a), data));
  }
}

/** The stop pushes read as every worker reads them. */
function stopsOf(nats: FakeNats) {
  return nats.pushes.map((p) => stopOfAbortPush({ subject: p.subject, headers: p.headers, string: () => p.data }));
}

describe('RunDispatchController: a run whose attempts ran out', () => {
  const limit = CONSUMER_SETTINGS.engine.maxDeliver;

  it("ends the run on the dispatch's last possible delivery, whatever maxRetries allows, and terminates it", async () => {
    // Every earlier delivery was a shutdown's hand-back, which maxRetries does not count.
    const { stream, nats, consumer } = setup(3);
    handedBack(stream, limit - 1);
    const { msg, settled } = delivery(limit);

    await consumer.deliver(msg);

    const message = `run failed: its dispatch reached the delivery limit (${limit} deliveries, most of them handed back by workers shutting down)`;
    const ofThisAttempt = stream.published().filter(([, attempt]) => attempt === limit);
    // The log line about the end goes first: the run's end is the last event of its history.
    expect(ofThisAttempt.map(([type]) => type)).toEqual(['RunLogged', 'RunFailed']);
    expect(ofThisAttempt.map(([, , data]) => data)).toEqual([
      expect.objectContaining({ level: 'ERROR', message }),
      { errorMessage: message, reason: 'attempts_exhausted' },
    ]);
    // Never started, and never handed back: JetStream would not deliver it again.
    expect(settled).toEqual(['term']);
    expect(msg.termReason).toBe('delivery limit');
    // Every worker stops whatever any attempt of the run still runs, and drops its queued batches.
    expect(stopsOf(nats)).toEqual([{ runId: RUN, reason: { kind: 'stopped', message }, upToAttempt: limit }]);
    expect(nats.pushes[0]?.subject).toBe(T.runAbortSubject(RUN));
  });

  it('still runs the delivery before the limit when its predecessors were hand-backs', async () => {
    const { stream, nats, consumer } = setup(3);
    handedBack(stream, limit - 2);
    const { msg, settled } = delivery(limit - 1);

    await consumer.deliver(msg);

    const types = stream.published().map(([type, attempt]) => [type, attempt]);
    expect(types).toContainEqual(['RunStarted', limit - 1]);
    expect(types.at(-1)).toEqual(['RunCompleted', limit - 1]);
    expect(settled).toEqual(['ack']);
    // It announced itself to older attempts, and stopped nothing else.
    expect(stopsOf(nats)).toEqual([
      { runId: RUN, reason: { kind: 'superseded', byAttempt: limit - 1 }, upToAttempt: limit - 2 },
    ]);
  });

  it('ends the run when failed attempts pass maxRetries, and stops every attempt of it', async () => {
    // Attempt 1 went silent (its worker died): attempt 2 is one failed attempt past maxRetries 0.
    const { stream, nats, consumer } = setup(0);
    const { msg, settled } = delivery(2);

    await consumer.deliver(msg);

    const message = 'run failed after 1 failed attempt (maxRetries 0): its attempt lost its worker before finishing';
    expect(
      stream
        .published()
        .map(([type, attempt, data]) => [
          type,
          attempt,
          type === 'RunLogged' ? (data as { message: string }).message : data,
        ]),
    ).toEqual([
      ['RunAttemptAbandoned', 2, { abandonedAttempt: 1, reason: 'heartbeat_lost' }],
      // Not "retrying": this delivery ends the run.
      ['RunLogged', 2, 'attempt 1 lost its worker; no retries left'],
      ['RunLogged', 2, message],
      ['RunFailed', 2, { errorMessage: message, reason: 'attempts_exhausted' }],
    ]);
    expect(settled).toEqual(['term']);
    expect(msg.termReason).toBe('attempts exhausted');
    expect(stopsOf(nats)).toEqual([{ runId: RUN, reason: { kind: 'stopped', message }, upToAttempt: 2 }]);
  });

  it('an older attempt still running when a newer one ended the run records nothing and leaves the delivery alone', async () => {
    // Attempt 1 (a worker cut off past its lease) starts; meanwhile attempt 2 ends the run and its
    // stop push arrives.
    const { stream, signals, consumer } = setup(0);
    stream.onPublish = (event) => {
      if (event.type !== 'RunStarted') return;
      stream.append(
        createEvent('RunFailed', at(2), { errorMessage: 'attempts ran out', reason: 'attempts_exhausted' }),
      );
      signals.abort(RUN, { kind: 'stopped', message: 'attempts ran out' }, 2);
    };
    const { msg, settled } = delivery(1);

    await consumer.deliver(msg);

    const ends = stream.stored.filter((s) => isRunEnd(s.event)).map((s) => [s.event.type, s.event.attempt]);
    expect(ends).toEqual([['RunFailed', 2]]);
    // Attempt 2 terminated the dispatch; this stale delivery is not this worker's to settle.
    expect(settled).toEqual([]);
  });
});
