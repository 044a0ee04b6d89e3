import { invalidText } from './text-integrity.hook';

describe('invalidText: the fields of a request that are not storable text', () => {
  it('names every field holding a NUL or a lone surrogate, nested paths and array items included', () => {
    const body = {
      name: 'ok',
      template: { params: { label: 'a\u0000b' }, tags: ['fine', '\uD800x'] },
      note: 'emoji \uD83D\uDE00 is fine',
    };
    expect(invalidText(body, '')).toEqual([
      { field: 'template.params.label', reason: 'must not contain a NUL character (\\u0000)' },
      { field: 'template.tags[1]', reason: 'must be valid text (it holds an unpaired UTF-16 surrogate)' },
    ]);
  });

  it('names a field whose name holds a NUL, and accepts clean input', () => {
    expect(invalidText({ ['a\u0000']: 1 }, '')).toEqual([
      { field: 'a\\u0000', reason: 'a field name must not contain a NUL character (\\u0000)' },
    ]);
    expect(invalidText({ id: 'abc', scheduleId: '0193', n: 3, list: [1, 'x'] }, '')).toEqual([]);
  });
});
