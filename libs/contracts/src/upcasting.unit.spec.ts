import { z } from 'zod';
import { ContractError } from './envelope';
import { createEvent, createEventCodec, decodeEvent, defineEvent, registerUpcaster } from './events';

/*
 * Versioning by upcasting, shown on a test-only event so that no fake type is ever published:
 * `ParamsNoted` v1 stored `{ note }`; v2 renamed it to `text` and added a required `severity`; v3
 * added `tags`. A build that knows v3 reads every stored version as v3; a v1 build refuses v2.
 */
const V1 = defineEvent('ParamsNoted', 1, 'params_noted', z.object({ note: z.string() }));
const V2 = defineEvent(
  'ParamsNoted',
  2,
  'params_noted',
  z.object({ text: z.string(), severity: z.enum(['info', 'warn']) }),
);
const V3 = defineEvent(
  'ParamsNoted',
  3,
  'params_noted',
  z.object({ text: z.string(), severity: z.enum(['info', 'warn']), tags: z.array(z.string()) }),
);

const envelope = (version: number, data: unknown) => ({
  type: 'ParamsNoted',
  version,
  runId: 'r1',
  occurredAt: '2026-03-01T10:00:00.000Z',
  attempt: 1,
  data,
});

/** The stable `code` of the ContractError that `fn` throws (undefined when it does not throw). */
function codeOf(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (err) {
    return err instanceof ContractError ? err.code : 'not a ContractError';
  }
  return undefined;
}

function v3Codec() {
  const codec = createEventCodec([V3]);
  codec.registerUpcaster('ParamsNoted', 1, (d) => ({ text: (d as { note: string }).note, severity: 'info' }));
  codec.registerUpcaster('ParamsNoted', 2, (d) => ({ ...(d as object), tags: [] }));
  return codec;
}

describe('reading old event versions (upcasting)', () => {
  it('given a stored v1 event, when a v2 build reads it, then it sees the v2 shape', () => {
    const codec = createEventCodec([V2]);
    codec.registerUpcaster('ParamsNoted', 1, (d) => ({ text: (d as { note: string }).note, severity: 'info' }));
    expect(codec.decode(envelope(1, { note: 'fast raised to 12' }))).toEqual(
      envelope(2, { text: 'fast raised to 12', severity: 'info' }),
    );
    // The current version is read as it is.
    expect(codec.decode(envelope(2, { text: 'x', severity: 'warn' }))).toEqual(
      envelope(2, { text: 'x', severity: 'warn' }),
    );
  });

  it('chains upcasters one version at a time (v1 → v2 → v3)', () => {
    expect(v3Codec().decode(envelope(1, { note: 'n' }))).toEqual(
      envelope(3, { text: 'n', severity: 'info', tags: [] }),
    );
    expect(v3Codec().decode(envelope(2, { text: 't', severity: 'warn' }))).toEqual(
      envelope(3, { text: 't', severity: 'warn', tags: [] }),
    );
  });

  it('validates the upcast payload against the current schema', () => {
    const codec = createEventCodec([V2]);
    codec.registerUpcaster('ParamsNoted', 1, (d) => ({ text: (d as { note: string }).note, severity: 'loud' }));
    expect(codeOf(() => codec.decode(envelope(1, { note: 'n' })))).toBe('INVALID_EVENT');
  });

  it('refuses what it cannot read faithfully: a newer version, a missing upcaster, a bogus registration', () => {
    const v1 = createEventCodec([V1]);
    expect(codeOf(() => v1.decode(envelope(2, { text: 'x', severity: 'info' })))).toBe('EVENT_VERSION_TOO_NEW');
    const noChain = createEventCodec([V2]);
    expect(codeOf(() => noChain.decode(envelope(1, { note: 'n' })))).toBe('NO_UPCASTER');
    expect(codeOf(() => noChain.registerUpcaster('ParamsNoted', 2, (d) => d))).toBe('INVALID_UPCASTER');
    expect(codeOf(() => noChain.registerUpcaster('Unknown', 1, (d) => d))).toBe('UNKNOWN_EVENT_TYPE');
  });

  it('leaves the published events alone: every one is v1 today and decodes as itself', () => {
    const e = createEvent(
      'RunLogged',
      { runId: 'r1', attempt: 1, occurredAt: '2026-03-01T10:00:00.000Z' },
      { level: 'INFO', message: 'hi' },
    );
    expect(decodeEvent(JSON.parse(JSON.stringify(e)))).toEqual(e);
    // Registering an upcaster from the current version is a programming error.
    expect(codeOf(() => registerUpcaster('RunLogged', 1, (d) => d))).toBe('INVALID_UPCASTER');
  });
});
