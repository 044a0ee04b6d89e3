import type { Messaging, RunForgeConfig } from '@runforge/platform';
import { RunSignals } from './run-signals.service';

// Registration and aborts only: the NATS subscriptions (onApplicationBootstrap) are not started.
const signals = (): RunSignals => new RunSignals({} as Messaging, {} as RunForgeConfig);

describe('RunSignals', () => {
  it('aborts every registered controller of a run, and only of that run', () => {
    const s = signals();
    const [a, b, other] = [s.register('r1'), s.register('r1'), s.register('r2')];
    s.abort('r1', { kind: 'cancelled' });
    expect(a.signal.aborted && b.signal.aborted).toBe(true);
    expect(a.signal.reason).toEqual({ kind: 'cancelled' });
    expect(other.signal.aborted).toBe(false);
  });

  it('hands work registered after a cancellation an aborted controller (a batch pulled just before it)', () => {
    const s = signals();
    s.abort('r1', { kind: 'cancelled' });
    const late = s.register('r1');
    expect(late.signal.aborted).toBe(true);
    expect(late.signal.reason).toEqual({ kind: 'cancelled' });
    expect(s.register('r2').signal.aborted).toBe(false);
  });

  it('does not remember stops that are not final (a coordinator stop, a shutdown)', () => {
    const s = signals();
    s.abort('r1', { kind: 'stopped', message: 'too many failed trials' });
    s.abortAll({ kind: 'shutdown' });
    expect(s.register('r1').signal.aborted).toBe(false);
  });
});
