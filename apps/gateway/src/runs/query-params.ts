import type { FieldIssue } from '@runforge/contracts';
import type { z } from 'zod';
import { ValidationFailed } from '../common/validation';

/**
 * Validates a query string. Issues name the parameter itself (`status`, not `status.0` for the
 * first value of a list), since that is what a client can fix.
 */
export function parseQueryOrThrow<S extends z.ZodType>(schema: S, query: unknown): z.output<S> {
  const parsed = schema.safeParse(query ?? {});
  if (parsed.success) return parsed.data;
  const issues: FieldIssue[] = parsed.error.issues.flatMap((i) =>
    i.code === 'unrecognized_keys'
      ? i.keys.map((k) => ({ field: k, reason: 'unknown query parameter' }))
      : [{ field: String(i.path[0] ?? '(query)'), reason: i.message }],
  );
  throw new ValidationFailed(issues, 'invalid query parameters');
}
