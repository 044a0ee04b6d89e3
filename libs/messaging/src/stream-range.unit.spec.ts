import { boundedFetchSize } from '@runforge/messaging';
import { readLimitsFromEnv, StreamReadError, STREAM_READ_ERROR_CODES } from './stream-range';

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

describe('boundedFetchSize', () => {
  it('asks for as many events as fit the window were each as large as the server allows', () => {
    expect(boundedFetchSize(32 * 1024 * 1024, 1024 * 1024)).toBe(32);
    expect(boundedFetchSize(32 * 1024 * 1024, 8 * 1024 * 1024)).toBe(4);
  });

  it('asks for one event at least, and at most 1,000', () => {
    expect(boundedFetchSize(1, 1024 * 1024)).toBe(1);
    expect(boundedFetchSize(1e12, 1024)).toBe(1000);
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
