import type { Messaging, RunForgeConfig } from '@runforge/service';
import { headers } from '@nats-io/nats-core';
import { abortPushHeaders, RunSignals, stopOfAbortPush } from './run-signals.service';

// Registration and aborts only: the NATS subscriptions (onApplicationBootstrap) are not started.
const signals = (): RunSignals => new RunSignals({} as Messaging, {} as RunForgeConfig);

describe('RunSignals', () => {
  it('aborts every registered controller of a run, and only of that run', () => {
    const s = signals();
    const [a, b, other] = [s.register('r1', 1), s.register('r1', 2), s.register('r2', 1)];
    s.abort('r1', { kind: 'cancelled' });
    expect(a.signal.aborted && b.signal.aborted).toBe(true);
    expect(a.signal.reason).toEqual({ kind: 'cancelled' });
    expect(other.signal.aborted).toBe(false);
  });

  it('hands work registered after a cancellation an aborted controller (a batch pulled just before it)', () => {
    const s = signals();
    s.abort('r1', { kind: 'cancelled' });
    const late = s.register('r1', 3);
    expect(late.signal.aborted).toBe(true);
    expect(late.signal.reason).toEqual({ kind: 'cancelled' });
    expect(s.register('r2', 1).signal.aborted).toBe(false);
  });

  it("stops a coordinator's attempt and older ones, now and for their batches still queued, but not a newer attempt", () => {
    const s = signals();
    const [old, current, next] = [s.register('r1', 1), s.register('r1', 2), s.register('r1', 3)];
    s.abort('r1', { kind: 'superseded', byAttempt: 3 }, 2);
    expect([old.signal.aborted, current.signal.aborted, next.signal.aborted]).toEqual([true, true, false]);
    expect(current.signal.reason).toEqual({ kind: 'superseded', byAttempt: 3 });
    // A batch of attempt 2 taken from the queue afterwards starts aborted; one of attempt 3 runs.
    expect(s.register('r1', 2).signal.reason).toEqual({ kind: 'superseded', byAttempt: 3 });
    expect(s.register('r1', 3).signal.aborted).toBe(false);
    // An older stop never lowers what is remembered.
    s.abort('r1', { kind: 'stopped', message: 'late push' }, 1);
    expect(s.register('r1', 2).signal.aborted).toBe(true);
  });

  it('does not remember a stop without an attempt (a worker of an earlier version) beyond the work it stopped', () => {
    const s = signals();
    const running = s.register('r1', 1);
    s.abort('r1', { kind: 'stopped', message: 'too many failed trials' });
    expect(running.signal.aborted).toBe(true);
    expect(s.register('r1', 1).signal.aborted).toBe(false);
  });

  it('after a shutdown, aborts all it runs and hands whatever registers later an aborted controller', () => {
    const s = signals();
    const running = s.register('r1', 1);
    s.abortAll({ kind: 'shutdown' });
    expect(running.signal.reason).toEqual({ kind: 'shutdown' });
    expect(s.register('r2', 1).signal.reason).toEqual({ kind: 'shutdown' });
  });

  it('forgets released work', () => {
    const s = signals();
    const done = s.register('r1', 1);
    s.release('r1', done);
    s.abort('r1', { kind: 'stopped', message: 'x' });
    expect(done.signal.aborted).toBe(false);
  });

  it('reads an abort push: a coordinator stop, a superseded attempt, and a push of an earlier version', () => {
    const push = (h: ReturnType<typeof headers> | undefined, body: string) => ({
      subject: 'ns.ctl.runs.r1.abort',
      headers: h,
      string: () => body,
    });
    expect(stopOfAbortPush(push(abortPushHeaders(2), 'too many failed trials'))).toEqual({
      runId: 'r1',
      reason: { kind: 'stopped', message: 'too many failed trials' },
      upToAttempt: 2,
    });
    expect(stopOfAbortPush(push(abortPushHeaders(2, 3), 'superseded by attempt 3'))).toEqual({
      runId: 'r1',
      reason: { kind: 'superseded', byAttempt: 3 },
      upToAttempt: 2,
    });
    // No headers at all, or unrelated ones (a missing header reads as ""): every attempt, stopped.
    for (const h of [undefined, headers()]) {
      expect(stopOfAbortPush(push(h, ''))).toEqual({
        runId: 'r1',
        reason: { kind: 'stopped', message: 'stopped by its coordinator' },
      });
    }
  });
});
