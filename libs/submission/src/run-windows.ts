import type { NatsConnection } from '@nats-io/nats-core';
import { jetstream, JetStreamApiCodes, JetStreamApiError } from '@nats-io/jetstream';
import { Kvm, type KV } from '@nats-io/kv';
import { localDate, windowBounds, type RunWindow } from '@runforge/calendar';
import type { Topology } from '@runforge/contracts';

/** A job kind's limit: at most `count` runs per calendar `window` in `timeZone`. */
export interface MaxRunsPerWindow {
  readonly count: number;
  readonly window: RunWindow;
  readonly timeZone: string;
}

export type RunWindowClaim =
  | { readonly ok: true }
  | {
      readonly ok: false;
      /** The end of the window: the first instant a new claim can succeed. */
      readonly nextAllowedAt: Date;
      readonly message: string;
      /** The runs holding the window's slots. */
      readonly holders: string[];
    };

/**
 * How long the bucket keeps a claim (its stream's max age): longer than the longest window (a
 * 25-hour local day), so a claim outlives its window and old windows then expire on their own.
 */
export const RUN_WINDOW_CLAIM_TTL_MS = 3 * 24 * 3600 * 1000;

/** Bounds the slots tried per claim (one KV round trip each); as the schedules' `maxRunsPerWindow`. */
export const MAX_RUNS_PER_WINDOW = 10_000;

export const RUN_WINDOW_ERROR_CODES = {
  KIND_INVALID: 'RUN_WINDOW_KIND_INVALID',
  POLICY_INVALID: 'RUN_WINDOW_POLICY_INVALID',
} as const;
export type RunWindowErrorCode = (typeof RUN_WINDOW_ERROR_CODES)[keyof typeof RUN_WINDOW_ERROR_CODES];

/** A kind or policy that cannot be claimed against (a broken invariant of the kind's declaration). */
export class RunWindowError extends Error {
  constructor(
    readonly code: RunWindowErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'RunWindowError';
  }
}

/** A kind is one token of the key: KV keys are subjects, so no `.`, `*`, `>` or spaces. */
const KIND_RE = /^[A-Za-z0-9_-]{1,64}$/;

/** The window's name in its keys: unique per window of that length and time zone. */
function windowLabel(start: Date, policy: MaxRunsPerWindow): string {
  switch (policy.window) {
    case '1d':
      return localDate(start, policy.timeZone);
    default: {
      const never: never = policy.window;
      throw new RunWindowError(RUN_WINDOW_ERROR_CODES.POLICY_INVALID, `unknown window ${String(never)}`);
    }
  }
}

export interface RunWindowSlots {
  readonly start: Date;
  readonly end: Date;
  /** `<kind>.<window start as local yyyy-mm-dd>.<slot>`, slot 0 … count − 1. */
  readonly keys: readonly string[];
}

/** The window of `policy` containing `now`, and the KV keys of its slots. */
export function runWindowSlots(kind: string, policy: MaxRunsPerWindow, now: Date): RunWindowSlots {
  if (!KIND_RE.test(kind)) {
    throw new RunWindowError(
      RUN_WINDOW_ERROR_CODES.KIND_INVALID,
      `kind "${kind}" cannot name a run-window key: 1 to 64 letters, digits, "_" or "-"`,
    );
  }
  const { count } = policy;
  if (!Number.isInteger(count) || count < 1 || count > MAX_RUNS_PER_WINDOW) {
    throw new RunWindowError(
      RUN_WINDOW_ERROR_CODES.POLICY_INVALID,
      `maxRunsPerWindow.count of kind "${kind}" must be a whole number from 1 to ${MAX_RUNS_PER_WINDOW}, got ${count}`,
    );
  }
  let bounds: { start: Date; end: Date };
  try {
    bounds = windowBounds(now, policy.timeZone, policy.window);
  } catch (cause) {
    throw new RunWindowError(
      RUN_WINDOW_ERROR_CODES.POLICY_INVALID,
      `maxRunsPerWindow.timeZone of kind "${kind}" is not an IANA time zone: "${policy.timeZone}"`,
      { cause },
    );
  }
  const label = windowLabel(bounds.start, policy);
  const keys = Array.from({ length: count }, (_, slot) => `${kind}.${label}.${slot}`);
  return { ...bounds, keys };
}

const WINDOW_NAMES: Record<RunWindow, { readonly per: string; readonly this: string }> = {
  '1d': { per: 'calendar day', this: 'this day' },
};

/** Why a claim was refused, for the caller's 409 or the schedule's `limited` fire. */
export function runWindowRefusal(
  kind: string,
  policy: MaxRunsPerWindow,
  holders: readonly string[],
  nextAllowedAt: Date,
): string {
  const names = WINDOW_NAMES[policy.window];
  const runs = (n: number): string => (n === 1 ? 'run' : 'runs');
  return (
    `at most ${policy.count} ${runs(policy.count)} of kind "${kind}" per ${names.per} in ${policy.timeZone}; ` +
    `${names.this} already has ${runs(holders.length)} ${holders.join(', ')}; ` +
    `next allowed from ${nextAllowedAt.toISOString()}`
  );
}

const isWrongLastSequence = (err: unknown): boolean =>
  err instanceof JetStreamApiError &&
  (err.code === JetStreamApiCodes.StreamWrongLastSequence ||
    err.code === JetStreamApiCodes.StreamWrongLastSequenceUnknown);

/** A slot freed between a failed create and the read after it: create again, a bounded number of times. */
const CREATE_ATTEMPTS = 3;

/**
 * At most N runs of a kind per calendar window, whatever triggered them (REST API, dashboard,
 * schedule, manual): a window has N slots, and a run holds one as a KV key it creates.
 *
 * KV `create` is atomic first-writer-wins (a publish expecting the key's last sequence to be 0, or
 * its delete marker's), so of concurrent triggers exactly N win. Counting the kind's runs in the
 * read model instead would race (two triggers both count N − 1) and lag (the projection folds
 * `RunRequested` after it is published).
 */
export class RunWindowClaims {
  private constructor(private readonly kv: KV) {}

  /** `timeoutMs`: how long a claim waits for the server (nats.js defaults to 5 s). */
  static async open(nc: NatsConnection, t: Topology, timeoutMs?: number): Promise<RunWindowClaims> {
    // `ttl` is the stream's max age (any server); per-key TTLs and delete-marker TTLs need 2.11.
    const kv = await new Kvm(jetstream(nc, timeoutMs ? { timeout: timeoutMs } : {})).create(t.runWindowBucket, {
      ttl: RUN_WINDOW_CLAIM_TTL_MS,
      history: 1,
    });
    return new RunWindowClaims(kv);
  }

  /**
   * Takes a slot of the window containing `now` for `runId`. A run that already holds one (a
   * retried submission of the same run) succeeds again without taking a second.
   */
  async claim(kind: string, policy: MaxRunsPerWindow, runId: string, now: Date): Promise<RunWindowClaim> {
    const { end, keys } = runWindowSlots(kind, policy, now);
    const holders: (string | undefined)[] = [];
    for (const key of keys) holders.push(await this.holderOf(key));
    if (holders.includes(runId)) return { ok: true };
    for (const [slot, key] of keys.entries()) {
      if (holders[slot] !== undefined) continue;
      const holder = await this.create(key, runId);
      if (holder === runId) return { ok: true };
      holders[slot] = holder;
    }
    const others = [...new Set(holders.filter((h): h is string => h !== undefined))];
    return { ok: false, nextAllowedAt: end, message: runWindowRefusal(kind, policy, others, end), holders: others };
  }

  /**
   * Frees the slot `runId` holds in the window containing `now` (pass the claim's `now`), so a
   * submission that failed after its claim does not use up the window. Deletes only if the slot
   * still holds `runId` at the revision read. Returns whether a slot was freed.
   */
  async release(kind: string, policy: MaxRunsPerWindow, runId: string, now: Date): Promise<boolean> {
    const { keys } = runWindowSlots(kind, policy, now);
    let released = false;
    for (const key of keys) {
      const entry = await this.kv.get(key);
      if (entry?.operation !== 'PUT' || entry.string() !== runId) continue;
      try {
        await this.kv.delete(key, { previousSeq: entry.revision });
        released = true;
      } catch (err) {
        if (!isWrongLastSequence(err)) throw err;
      }
    }
    return released;
  }

  /**
   * Publishes `runId` only once it holds a slot of `window` (at once when there is none), and gives
   * the slot back if the publish fails, so a failed submission does not use up the window. Answers
   * the refusal instead of publishing when the window is full.
   */
  async publishWithin<T>(
    window: { readonly key: string; readonly policy: MaxRunsPerWindow } | undefined,
    runId: string,
    now: Date,
    publish: () => Promise<T>,
  ): Promise<{ ok: true; value: T } | Extract<RunWindowClaim, { ok: false }>> {
    if (!window) return { ok: true, value: await publish() };
    const claim = await this.claim(window.key, window.policy, runId, now);
    if (!claim.ok) return claim;
    try {
      return { ok: true, value: await publish() };
    } catch (err) {
      await this.release(window.key, window.policy, runId, now).catch(() => false);
      throw err;
    }
  }

  /** Creates `key` for `runId`; returns the run that holds it afterwards (`runId` if created). */
  private async create(key: string, runId: string): Promise<string> {
    for (let attempt = 1; ; attempt += 1) {
      try {
        await this.kv.create(key, runId);
        return runId;
      } catch (err) {
        // Also after a lost ack: the create may have landed, and then this run holds the slot.
        const holder = await this.holderOf(key);
        if (holder !== undefined) return holder;
        if (!isWrongLastSequence(err) || attempt === CREATE_ATTEMPTS) throw err;
      }
    }
  }

  private async holderOf(key: string): Promise<string | undefined> {
    const entry = await this.kv.get(key);
    return entry?.operation === 'PUT' ? entry.string() : undefined;
  }
}
