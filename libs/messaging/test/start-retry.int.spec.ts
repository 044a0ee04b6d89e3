import { connect } from '@nats-io/transport-node';
import type { NatsConnection } from '@nats-io/nats-core';
import { topology } from '@runforge/contracts';
import { isNatsUnavailable, provisionTopology, retryWhileUnavailable } from '@runforge/messaging';
import { eventually } from '../../../test/support/eventually';
import { PrivateNats } from '../../../test/support/private-servers';

// A service's start-up requests against a real nats-server that hangs (SIGSTOP: its sockets stay
// open, nothing answers), as a cluster electing a stream's leader does for a few seconds.

describe('start-up requests while NATS does not answer', () => {
  let nats: PrivateNats;
  let nc: NatsConnection;

  beforeAll(async () => {
    nats = await PrivateNats.start();
    nc = await connect({ servers: nats.url, noAsyncTraces: true });
  });

  afterAll(async () => {
    await nc?.close().catch(() => undefined);
    await nats?.destroy();
  });

  it('provisions the topology once the server answers again, retrying meanwhile', async () => {
    const t = topology('startretry');
    const retries: unknown[] = [];
    nats.pause(true);
    const provisioned = retryWhileUnavailable('the streams', () => provisionTopology(nc, t), {
      withinSeconds: 120,
      onRetry: (_what, _attempt, err) => retries.push(err),
    });
    // The first attempt times out against the hung server; the server answers again after that.
    await eventually(
      'a retry after an unanswered attempt',
      () => Promise.resolve(retries.length),
      (n) => n > 0,
      {
        timeoutMs: 30_000,
      },
    );
    nats.pause(false);
    const jsm = await provisioned;
    expect(retries.every(isNatsUnavailable)).toBe(true);
    expect((await jsm.streams.info(t.streams.runs.name)).config.subjects).toEqual(t.streams.runs.subjects);
    expect((await jsm.consumers.info(t.streams.work.name, t.consumers.engineNormal.durable)).name).toBe(
      t.consumers.engineNormal.durable,
    );
  });

  it('does not retry an error that is not NATS being unavailable', async () => {
    let calls = 0;
    await expect(
      retryWhileUnavailable('a bad request', () => {
        calls++;
        return Promise.reject(new Error('stream name already in use with a different configuration'));
      }),
    ).rejects.toThrow(/different configuration/);
    expect(calls).toBe(1);
  });
});
