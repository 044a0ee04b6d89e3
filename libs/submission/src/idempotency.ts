import { createHash } from 'node:crypto';
import { jetstream, JetStreamApiCodes, JetStreamApiError } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/nats-core';
import { Kvm, type KV } from '@nats-io/kv';
import type { Topology } from '@runforge/contracts';

/** How long an `Idempotency-Key` is remembered (at least the 24 h promised by the API). */
export const IDEMPOTENCY_TTL_MS = 48 * 3600 * 1000;

export interface IdempotencyRecord {
  readonly bodyHash: string;
  readonly kind: string;
  readonly runId: string;
  /** The 202 body first returned for this key, returned again verbatim. */
  readonly response: Record<string, unknown>;
}

function canonicalJson(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonicalJson).join(',')}]`;
  if (v !== null && typeof v === 'object') {
    const o = v as Record<string, unknown>;
    return `{${Object.keys(o)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${canonicalJson(o[k])}`)
      .join(',')}}`;
  }
  return JSON.stringify(v) ?? 'null';
}

export function requestHash(kind: string, body: unknown): string {
  return createHash('sha256').update(kind).update('\0').update(canonicalJson(body)).digest('hex');
}

/**
 * Durable idempotency keys in a JetStream key-value bucket (the stream's 2-minute duplicate window
 * alone is too short). `claim` is atomic (KV create fails when the key exists), so of two
 * concurrent requests with the same key exactly one publishes the run.
 */
export class IdempotencyStore {
  private constructor(private readonly kv: KV) {}

  /** `timeoutMs`: how long a claim or lookup waits for the server (nats.js defaults to 5 s). */
  static async open(nc: NatsConnection, t: Topology, timeoutMs?: number): Promise<IdempotencyStore> {
    const kv = await new Kvm(jetstream(nc, timeoutMs ? { timeout: timeoutMs } : {})).create(t.idempotencyBucket, {
      ttl: IDEMPOTENCY_TTL_MS,
      history: 1,
    });
    return new IdempotencyStore(kv);
  }

  private static keyOf(userKey: string): string {
    return createHash('sha256').update(userKey).digest('hex');
  }

  async claim(
    userKey: string,
    record: IdempotencyRecord,
  ): Promise<{ claimed: true } | { claimed: false; existing: IdempotencyRecord }> {
    const key = IdempotencyStore.keyOf(userKey);
    const value = JSON.stringify(record);
    // One request while NATS does not answer (a timeout is not asked again: kv.create would follow
    // it with a lookup, and the gateway's 503 would come after two timeouts, or three).
    try {
      await this.kv.put(key, value, { previousSeq: 0 });
      return { claimed: true };
    } catch (err) {
      if (!isWrongLastSequence(err)) throw err;
      const entry = await this.kv.get(key);
      if (!entry) throw err;
      if (entry.operation === 'PUT') return { claimed: false, existing: entry.json<IdempotencyRecord>() };
      // A deleted or purged key is free again (as kv.create treats it).
      await this.kv.put(key, value, { previousSeq: entry.revision });
      return { claimed: true };
    }
  }
}

/** The server refused a write because the key already has a revision (the claim is someone else's). */
function isWrongLastSequence(err: unknown): boolean {
  return (
    err instanceof JetStreamApiError &&
    (err.code === JetStreamApiCodes.StreamWrongLastSequence ||
      err.code === JetStreamApiCodes.StreamWrongLastSequenceUnknown)
  );
}
