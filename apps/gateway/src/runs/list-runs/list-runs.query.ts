import { FAILURE_REASONS, KIND_NAME_PATTERN, RUN_STATUSES, TriggeredBySchema } from '@runforge/contracts';
import { strategyNames } from '@runforge/engine';
import { z } from 'zod';
import { decodeCursor } from '../cursor';

/** `a,b` or a repeated parameter (`?status=a&status=b`) both mean "any of". */
function anyOf<T extends readonly [string, ...string[]]>(values: T) {
  return z.preprocess(
    (v) => {
      const list: unknown[] = Array.isArray(v) ? v : typeof v === 'string' ? v.split(',') : [v];
      return list.map((s) => (typeof s === 'string' ? s.trim() : s));
    },
    z.array(z.enum(values, { error: (i) => `must be one of ${values.join(', ')}, got "${String(i.input)}"` })).min(1),
  );
}

/** Like anyOf, over values checked by `item`. */
function listOf(item: z.ZodString) {
  return z.preprocess((v) => {
    const list: unknown[] = Array.isArray(v) ? v : typeof v === 'string' ? v.split(',') : [v];
    return list.map((s) => (typeof s === 'string' ? s.trim() : s));
  }, z.array(item).min(1));
}

/** A repeated single-valued parameter: the last one wins. */
const lastOf = (v: unknown): unknown => (Array.isArray(v) ? (v as unknown[])[v.length - 1] : v);
const single = z.preprocess(lastOf, z.string().min(1).max(200));
const instant = z.preprocess(
  lastOf,
  z.iso.datetime({ offset: true, error: 'must be an ISO-8601 date-time, e.g. 2026-01-31T00:00:00Z' }),
);

const listCursor = z.string().transform((c, ctx) => {
  const parts = decodeCursor(c);
  const [at, id] = parts ?? [];
  if (parts?.length !== 2 || typeof at !== 'string' || typeof id !== 'string' || Number.isNaN(Date.parse(at))) {
    ctx.addIssue({ code: 'custom', message: 'not a cursor returned by this endpoint' });
    return z.NEVER;
  }
  return { requestedAt: at, id };
});

export const RunListQuerySchema = z
  .object({
    /** Checked against the kinds the registry knows by the controller (program kinds come from a file). */
    kind: listOf(z.string().regex(new RegExp(KIND_NAME_PATTERN), 'not a kind name')).optional(),
    status: anyOf(RUN_STATUSES).optional(),
    triggeredBy: anyOf(TriggeredBySchema.options as [string, ...string[]]).optional(),
    /** `failure_reason` of failed runs, e.g. `attempts_exhausted` (dead letters). */
    reason: anyOf(FAILURE_REASONS).optional(),
    strategy: anyOf(strategyNames() as [string, ...string[]]).optional(),
    scheduleId: single.optional(),
    /** Runs asked for by one principal: a key's id, a token's subject, or `scheduler`. */
    principal: single.optional(),
    /** Energy runs (DMO, RMO, SO) over one data source (`data_source_id` of their request). */
    dataSourceId: single.optional(),
    /** requested_at >= from */
    from: instant.optional(),
    /** requested_at < to */
    to: instant.optional(),
    limit: z.coerce
      .number({ error: 'must be an integer from 1 to 500' })
      .int('must be an integer from 1 to 500')
      .min(1, 'must be an integer from 1 to 500')
      .max(500, 'must be an integer from 1 to 500')
      .default(50),
    cursor: listCursor.optional(),
  })
  .strict()
  .superRefine((q, ctx) => {
    if (q.from && q.to && Date.parse(q.from) >= Date.parse(q.to)) {
      ctx.addIssue({ code: 'custom', path: ['to'], message: 'must be after "from"' });
    }
  });

export type RunListQuery = z.output<typeof RunListQuerySchema>;
