import { natsServers } from './connection';

describe('natsServers', () => {
  it('reads one URL, or the comma-separated nodes of a cluster (spaces and empty parts ignored)', () => {
    expect(natsServers('nats://127.0.0.1:4222')).toEqual(['nats://127.0.0.1:4222']);
    expect(natsServers('nats://127.0.0.1:4001, nats://127.0.0.1:4002,,nats://127.0.0.1:4003')).toEqual([
      'nats://127.0.0.1:4001',
      'nats://127.0.0.1:4002',
      'nats://127.0.0.1:4003',
    ]);
  });
});
