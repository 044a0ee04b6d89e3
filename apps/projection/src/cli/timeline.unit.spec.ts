import { createEvent } from '@runforge/contracts';
import type { StoredRunEvent } from '@runforge/messaging';
import { canonical } from '../rebuild/verify';
import { describeEvent, formatTimeline } from './timeline';

const meta = (attempt: number) => ({ runId: 'r1', attempt, occurredAt: '2026-03-01T10:00:00.000Z' });

describe('the replay timeline', () => {
  it('says what each event means, one line per event in stream order', () => {
    const history: StoredRunEvent[] = [
      createEvent('RunRequested', meta(0), {
        kind: 'backtest',
        request: {
          strategy: 'sma-crossover',
          params: { fast: 10, slow: 30 },
          dataset: { synthetic: { bars: 1000, seed: 1, timeframe: '1m' } },
        },
        totalBars: 1000,
        triggeredBy: 'api',
      }),
      createEvent('RunStarted', meta(1), { workerId: 'w1', totalBars: 1000 }),
      createEvent('BarProgressed', meta(1), { processedBars: 250, totalBars: 1000 }),
      createEvent('RunAttemptAbandoned', meta(0), { abandonedAttempt: 1, reason: 'heartbeat_lost' }),
      createEvent('RunLogged', meta(2), { level: 'ERROR', message: 'disk\nfull' }),
      createEvent('RunFailed', meta(2), { errorMessage: 'boom', reason: 'error' }),
    ].map((event, i) => ({ seq: i + 1, storedAt: '2026-03-01T10:00:01.000Z', subject: 'x', event }));
    const text = formatTimeline('r1', history);
    const lines = text.split('\n');
    expect(lines[0]).toBe('run r1: 6 event(s)');
    expect(lines).toHaveLength(8);
    expect(lines[2]).toMatch(
      /^\s+1 {2}2026-03-01T10:00:01\.000Z\s+RunRequested\s+1\s+0 {2}backtest sma-crossover fast=10 slow=30; 1000 bars; by api$/,
    );
    expect(lines[4]).toContain('250/1000 bars (25.0%)');
    expect(lines[5]).toContain('attempt 1 abandoned (heartbeat_lost)');
    expect(lines[6]).toContain('[ERROR] disk full');
    expect(describeEvent(history[5]!.event)).toBe('failed (error): boom');
  });

  it('names an optimization by its axes and constraints', () => {
    const requested = createEvent('RunRequested', meta(0), {
      kind: 'optimization',
      request: {
        strategy: 'sma-crossover',
        axes: { fast: { min: 2, max: 40, step: 1 }, slow: [20, 30] },
        constraints: ['fast < slow'],
        dataset: { synthetic: { bars: 1000, seed: 1, timeframe: '1m' } },
      },
      totalBars: 1000,
      totalCombinations: 68,
      triggeredBy: 'api',
    });
    expect(describeEvent(requested)).toBe(
      'optimization sma-crossover over fast 2..40 step 1, slow [20, 30] where fast < slow; 68 combinations × 1000 bars; by api',
    );
  });
});

describe('canonical JSON (verify compares jsonb, which reorders keys)', () => {
  it('is insensitive to key order and ignores undefined members', () => {
    expect(canonical({ b: 1, a: { d: [1, { y: 2, x: 1 }], c: null } })).toBe(
      canonical({ a: { c: null, d: [1, { x: 1, y: 2 }] }, b: 1, z: undefined }),
    );
    expect(canonical({ a: 1 })).not.toBe(canonical({ a: '1' }));
  });
});
