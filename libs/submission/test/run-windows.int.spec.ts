import { Kvm } from '@nats-io/kv';
import type { NatsConnection } from '@nats-io/nats-core';
import { connectNats } from '@runforge/messaging';
import {
  RUN_WINDOW_CLAIM_TTL_MS,
  RunWindowClaims,
  type MaxRunsPerWindow,
  type RunWindowClaim,
} from '@runforge/submission';
import { NATS_URL, newIsolation } from '../../../test/support/system';

// Run-window claims against a real NATS: each test opens the claims in its own namespace (its own
// bucket) and the bucket is destroyed after it.

const AMS = 'Europe/Amsterdam';
const at = (s: string): Date => new Date(s);
const oncePerDay: MaxRunsPerWindow = { count: 1, window: '1d', timeZone: AMS };
const twicePerDay: MaxRunsPerWindow = { count: 2, window: '1d', timeZone: AMS };
/** 12:00 in Amsterdam (UTC+2); its local day ends at 2026-07-15T22:00Z. */
const NOON = at('2026-07-15T10:00:00Z');
const NOON_DAY_END = '2026-07-15T22:00:00.000Z';

type Refusal = Extract<RunWindowClaim, { ok: false }>;
const refused = (c: RunWindowClaim): Refusal => {
  if (c.ok) throw new Error('expected the claim to be refused, it succeeded');
  return c;
};

describe('RunWindowClaims: at most N runs of a kind per calendar window (real NATS KV)', () => {
  let nc: NatsConnection;
  let buckets: string[] = [];

  /** Claims over a fresh bucket of a fresh namespace, destroyed after the test. */
  async function freshClaims(): Promise<{ claims: RunWindowClaims; bucket: string }> {
    const { topology } = newIsolation();
    buckets.push(topology.runWindowBucket);
    return { claims: await RunWindowClaims.open(nc, topology), bucket: topology.runWindowBucket };
  }

  beforeAll(async () => {
    nc = await connectNats(NATS_URL, 'run-windows-int');
  });

  afterEach(async () => {
    const kvm = new Kvm(nc);
    for (const b of buckets) await (await kvm.open(b)).destroy();
    buckets = [];
  });

  afterAll(async () => {
    await nc.close();
  });

  it('of 20 concurrent claims of a once-a-day kind, exactly one wins; the others are refused until the day ends', async () => {
    const { claims, bucket } = await freshClaims();
    const runIds = Array.from({ length: 20 }, (_, i) => `race-${i}`);

    const results = await Promise.all(runIds.map((id) => claims.claim('dmo', oncePerDay, id, NOON)));

    const winners = runIds.filter((_, i) => results[i]?.ok);
    expect(winners).toHaveLength(1);
    const winner = winners[0] as string;
    const refusals = results.filter((r) => !r.ok).map(refused);
    expect(refusals).toHaveLength(19);
    for (const r of refusals) {
      expect(r.nextAllowedAt.toISOString()).toBe(NOON_DAY_END);
      expect(r.holders).toEqual([winner]);
      expect(r.message).toBe(
        `at most 1 run of kind "dmo" per calendar day in ${AMS}; this day already has run ${winner}; next allowed from ${NOON_DAY_END}`,
      );
    }
    const stored = await (await new Kvm(nc).open(bucket)).get('dmo.2026-07-15.0');
    expect(stored?.string()).toBe(winner);
  });

  it('of 20 concurrent claims of a twice-a-day kind, exactly two win', async () => {
    const { claims } = await freshClaims();
    const runIds = Array.from({ length: 20 }, (_, i) => `pair-${i}`);

    const results = await Promise.all(runIds.map((id) => claims.claim('dmo', twicePerDay, id, NOON)));

    const winners = runIds.filter((_, i) => results[i]?.ok);
    expect(winners).toHaveLength(2);
    const refusals = results.filter((r) => !r.ok).map(refused);
    expect(refusals).toHaveLength(18);
    for (const r of refusals) {
      expect(r.nextAllowedAt.toISOString()).toBe(NOON_DAY_END);
      expect([...r.holders].sort()).toEqual([...winners].sort());
    }
  });

  it('a run claiming again (a retried submission) succeeds without taking a second slot', async () => {
    const { claims } = await freshClaims();

    expect(await claims.claim('dmo', oncePerDay, 'run-a', NOON)).toEqual({ ok: true });
    expect(await claims.claim('dmo', oncePerDay, 'run-a', at('2026-07-15T20:00:00Z'))).toEqual({ ok: true });
    expect(refused(await claims.claim('dmo', oncePerDay, 'run-b', NOON)).holders).toEqual(['run-a']);

    // Two claims of one run at once (a duplicate request): both succeed, one slot is taken.
    const { claims: two } = await freshClaims();
    const both = await Promise.all([
      two.claim('dmo', twicePerDay, 'run-a', NOON),
      two.claim('dmo', twicePerDay, 'run-a', NOON),
    ]);
    expect(both).toEqual([{ ok: true }, { ok: true }]);
    expect(await two.claim('dmo', twicePerDay, 'run-b', NOON)).toEqual({ ok: true });
    expect(refused(await two.claim('dmo', twicePerDay, 'run-c', NOON)).holders.sort()).toEqual(['run-a', 'run-b']);

    // A retry finds its slot even when an earlier slot has been freed, and leaves that one to another run.
    const { claims: freed } = await freshClaims();
    expect(await freed.claim('dmo', twicePerDay, 'run-x', NOON)).toEqual({ ok: true });
    expect(await freed.claim('dmo', twicePerDay, 'run-a', NOON)).toEqual({ ok: true });
    expect(await freed.release('dmo', twicePerDay, 'run-x', NOON)).toBe(true);
    expect(await freed.claim('dmo', twicePerDay, 'run-a', NOON)).toEqual({ ok: true });
    expect(await freed.claim('dmo', twicePerDay, 'run-b', NOON)).toEqual({ ok: true });
    expect(refused(await freed.claim('dmo', twicePerDay, 'run-c', NOON)).holders.sort()).toEqual(['run-a', 'run-b']);
  });

  it('the next calendar day has its own slots', async () => {
    const { claims } = await freshClaims();
    const nextDay = new Date(NOON.getTime() + 24 * 3600 * 1000);

    expect(await claims.claim('dmo', oncePerDay, 'day-1', NOON)).toEqual({ ok: true });
    expect(refused(await claims.claim('dmo', oncePerDay, 'day-2', NOON)).holders).toEqual(['day-1']);
    expect(await claims.claim('dmo', oncePerDay, 'day-2', nextDay)).toEqual({ ok: true });
    expect(refused(await claims.claim('dmo', oncePerDay, 'day-3', nextDay)).nextAllowedAt.toISOString()).toBe(
      '2026-07-16T22:00:00.000Z',
    );
  });

  it('days are local: in Amsterdam (UTC+2 in summer) the day changes at 22:00Z, not at midnight UTC', async () => {
    const { claims } = await freshClaims();

    // Same UTC date, different local days (23:30 on the 15th, 00:30 on the 16th).
    expect(await claims.claim('dmo', oncePerDay, 'late', at('2026-07-15T21:30:00Z'))).toEqual({ ok: true });
    expect(await claims.claim('dmo', oncePerDay, 'after-midnight', at('2026-07-15T22:30:00Z'))).toEqual({ ok: true });
    // Different UTC dates, the same local day (01:30 on the 16th): refused.
    const sameLocalDay = refused(await claims.claim('dmo', oncePerDay, 'next-utc-day', at('2026-07-16T00:30:00Z')));
    expect(sameLocalDay.holders).toEqual(['after-midnight']);
    expect(sameLocalDay.nextAllowedAt.toISOString()).toBe('2026-07-16T22:00:00.000Z');
  });

  it('release frees the slot of the run that holds it, and only that run can free it', async () => {
    const { claims } = await freshClaims();
    expect(await claims.claim('dmo', oncePerDay, 'holder', NOON)).toEqual({ ok: true });

    expect(await claims.release('dmo', oncePerDay, 'other', NOON)).toBe(false);
    expect(refused(await claims.claim('dmo', oncePerDay, 'other', NOON)).holders).toEqual(['holder']);

    expect(await claims.release('dmo', oncePerDay, 'holder', NOON)).toBe(true);
    expect(await claims.release('dmo', oncePerDay, 'holder', NOON)).toBe(false);
    expect(await claims.claim('dmo', oncePerDay, 'other', NOON)).toEqual({ ok: true });
    expect(refused(await claims.claim('dmo', oncePerDay, 'holder', NOON)).holders).toEqual(['other']);
  });

  it('other kinds are not limited by a kind’s claims', async () => {
    const { claims } = await freshClaims();
    expect(await claims.claim('dmo', oncePerDay, 'k-1', NOON)).toEqual({ ok: true });
    expect(await claims.claim('battery-dp', oncePerDay, 'k-2', NOON)).toEqual({ ok: true });
  });

  it('the bucket keeps one revision per key, and claims for RUN_WINDOW_CLAIM_TTL_MS (its max age)', async () => {
    const { bucket } = await freshClaims();
    const status = await (await new Kvm(nc).open(bucket)).status();
    expect(status.history).toBe(1);
    expect(status.ttl).toBe(RUN_WINDOW_CLAIM_TTL_MS);
  });

  it('publishWithin publishes inside the window, answers a full one without publishing, and gives back the slot of a failed publish', async () => {
    const { claims } = await freshClaims();
    const window = { key: 'dmo', policy: oncePerDay };
    const published: string[] = [];
    const publish = (id: string) => () => {
      published.push(id);
      return Promise.resolve(id);
    };

    await expect(
      claims.publishWithin(window, 'fails', NOON, () => Promise.reject(new Error('NATS down'))),
    ).rejects.toThrow('NATS down');
    const first = await claims.publishWithin(window, 'first', NOON, publish('first'));
    expect(first).toEqual({ ok: true, value: 'first' });
    const second = await claims.publishWithin(window, 'second', NOON, publish('second'));
    expect(refused(second as RunWindowClaim).holders).toEqual(['first']);
    expect(published).toEqual(['first']);
    expect(await claims.publishWithin(undefined, 'unlimited', NOON, publish('unlimited'))).toEqual({
      ok: true,
      value: 'unlimited',
    });
  });
});
