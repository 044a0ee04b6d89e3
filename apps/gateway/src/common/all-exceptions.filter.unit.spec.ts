import { ClosedConnectionError, RequestError, TimeoutError } from '@nats-io/nats-core';
import { unavailableService } from './all-exceptions.filter';

describe('which backing service an error says is down', () => {
  it('names NATS for its client errors, also when wrapped', () => {
    expect(unavailableService(new TimeoutError())).toBe('NATS');
    expect(unavailableService(new ClosedConnectionError())).toBe('NATS');
    expect(unavailableService(new Error('publish failed', { cause: new RequestError('no response') }))).toBe('NATS');
  });

  it('names Postgres for connection-level failures, from pg or through TypeORM', () => {
    expect(
      unavailableService(Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5432'), { code: 'ECONNREFUSED' })),
    ).toBe('Postgres');
    expect(unavailableService(Object.assign(new Error('query failed'), { driverError: { code: '57P01' } }))).toBe(
      'Postgres',
    );
    expect(unavailableService(new Error('Connection terminated unexpectedly'))).toBe('Postgres');
  });

  it('leaves everything else a plain server error', () => {
    expect(unavailableService(new TypeError('x is undefined'))).toBeUndefined();
    expect(unavailableService(Object.assign(new Error('duplicate key'), { code: '23505' }))).toBeUndefined();
    expect(unavailableService('not an error')).toBeUndefined();
  });
});
