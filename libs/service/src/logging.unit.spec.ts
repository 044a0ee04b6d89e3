import { logFormatOf } from './logging';

describe('logFormatOf', () => {
  it('logs JSON lines unless told otherwise', () => {
    expect(logFormatOf({})).toBe('json');
    expect(logFormatOf({ LOG_PRETTY: '0' })).toBe('json');
  });

  it('takes LOG_FORMAT first, then the older LOG_PRETTY', () => {
    expect(logFormatOf({ LOG_FORMAT: 'pretty' })).toBe('pretty');
    expect(logFormatOf({ LOG_FORMAT: ' JSON ', LOG_PRETTY: '1' })).toBe('json');
    expect(logFormatOf({ LOG_PRETTY: '1' })).toBe('pretty');
    expect(logFormatOf({ LOG_FORMAT: 'fancy', LOG_PRETTY: '1' })).toBe('pretty');
  });
});
