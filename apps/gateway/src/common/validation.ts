import { BadRequestException } from '@nestjs/common';
import { toFieldIssues, type FieldIssue } from '@runforge/contracts';
import type { z } from 'zod';

/** 400 with the offending fields: `{statusCode, error, message, issues: [{field, reason}]}`. */
export class ValidationFailed extends BadRequestException {
  constructor(issues: readonly FieldIssue[], message = 'request validation failed') {
    super({ statusCode: 400, error: 'Bad Request', message, issues });
  }
}

export function parseOrThrow<S extends z.ZodType>(schema: S, body: unknown): z.output<S> {
  if (body === undefined || body === null || typeof body !== 'object' || Array.isArray(body)) {
    throw new ValidationFailed([{ field: '(body)', reason: 'expected a JSON object' }]);
  }
  const parsed = schema.safeParse(body);
  if (!parsed.success) throw new ValidationFailed(toFieldIssues(parsed.error));
  return parsed.data;
}

/** Run ids are subject tokens: anything else cannot name a run. */
export function isRunId(id: string): boolean {
  return /^[A-Za-z0-9_-]{1,64}$/.test(id);
}
