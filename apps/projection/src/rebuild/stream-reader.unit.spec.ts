import { parseDelivery, StreamReadError, STREAM_READ_ERROR_CODES } from './bounded-pull';
import { readLimitsFromEnv } from './stream-reader';

describe('parseDelivery', () => {
  it('reads the stream sequence, delivery sequence and pending count of an old-style ack subject', () => {
    expect(parseDelivery('$JS.ACK.RUNS.rf_read_x.1.4123.17.1764000000000000000.4317')).toEqual({
      streamSeq: 4123,
      deliverySeq: 17,
      pending: 4317,
    });
  });

  it('reads the new style with domain, account hash and a trailing token', () => {
    expect(parseDelivery('$JS.ACK._.ACCHASH.RUNS.rf_read_x.1.9.2.1764000000000000000.0.abc123')).toEqual({
      streamSeq: 9,
      deliverySeq: 2,
      pending: 0,
    });
  });

  it('refuses what is not a JetStream delivery', () => {
    expect(parseDelivery('_INBOX.abc.1')).toBeUndefined();
    expect(parseDelivery('$JS.ACK.RUNS.c.1.x.2.3.4')).toBeUndefined();
    expect(parseDelivery('$JS.ACK.too.short')).toBeUndefined();
  });
});

describe('StreamReadError', () => {
  it('names the stream, the range, the sequence reached and the cause, with a stable code', () => {
    const e = new StreamReadError(
      STREAM_READ_ERROR_CODES.STALLED,
      { stream: 'RUNS', reachedSeq: 4123, fromSeq: 1, untilSeq: 8440, received: 4123 },
      'no message for 30.0 s with 4317 pending',
    );
    expect(e.message).toBe(
      'reading stream RUNS (sequences 1..8440) stopped at sequence 4123 after 4123 message(s): no message for 30.0 s with 4317 pending',
    );
    expect(e).toMatchObject({ name: 'StreamReadError', code: 'STREAM_READ_STALLED', stream: 'RUNS', reachedSeq: 4123 });
  });
});

describe('readLimitsFromEnv', () => {
  it('takes the window in bytes and the stall bound in seconds', () => {
    expect(readLimitsFromEnv({ STREAM_READ_MAX_BYTES: '8388608', STREAM_READ_STALL_SECONDS: '2.5' })).toEqual({
      maxPendingBytes: 8388608,
      stallMs: 2500,
    });
    expect(readLimitsFromEnv({})).toEqual({});
  });

  it('refuses values that are not positive numbers, naming the variable', () => {
    expect(() => readLimitsFromEnv({ STREAM_READ_MAX_BYTES: '16MB' })).toThrow(
      'STREAM_READ_MAX_BYTES must be a positive number, got "16MB"',
    );
    expect(() => readLimitsFromEnv({ STREAM_READ_STALL_SECONDS: '0' })).toThrow('STREAM_READ_STALL_SECONDS');
  });
});
