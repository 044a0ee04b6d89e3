import { z } from 'zod';

/**
 * Every message on the event log is one envelope: the event's type and schema version, the run it
 * belongs to, when it happened, and the delivery attempt of the worker that produced it (fencing:
 * the projection ignores events from an attempt older than the newest it has seen).
 */
export interface Envelope<T extends string = string, D = unknown> {
  readonly type: T;
  readonly version: number;
  readonly runId: string;
  readonly occurredAt: string;
  /** 0 for events not produced by a worker attempt (gateway, scheduler, projection). */
  readonly attempt: number;
  readonly data: D;
}

export const EnvelopeHeaderSchema = z.object({
  type: z.string().min(1),
  version: z.number().int().positive(),
  runId: z.string().min(1).max(64),
  occurredAt: z.iso.datetime({ offset: true }),
  attempt: z.number().int().nonnegative(),
  data: z.unknown(),
});

export class ContractError extends Error {
  readonly code: string;
  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'ContractError';
    this.code = code;
  }
}
