/** One reason a request was refused, at the field it is about (`params.fast`, `line 8.high`, `(body)`). */
export interface FieldIssue {
  field: string;
  reason: string;
  line?: number;
}

/** What the gateway answered when it refused a request, or why it could not be asked. */
export class RunForgeError extends Error {
  override readonly name = 'RunForgeError';

  constructor(
    /** The HTTP status; 0 when the gateway could not be reached at all. */
    readonly status: number,
    message: string,
    /** A `400`'s reasons, field by field (empty for other refusals). */
    readonly issues: readonly FieldIssue[] = [],
    /** The answer's body, for what a refusal carries beyond its message (a `409`'s `nextAllowedAt`). */
    readonly body?: unknown,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }

  /** The gateway refused the input itself (4xx but not 401/403/404/409): fix the request and retry. */
  get isBadInput(): boolean {
    return this.status === 400 || this.status === 415 || this.status === 422;
  }

  /** A line a person can act on: what was refused and, for 401/403, what to do about it. */
  get explanation(): string {
    if (this.status === 401) return `not signed in: set RUNFORGE_API_KEY (or --api-key) — ${this.message}`;
    if (this.status === 403) return `forbidden: ${this.message}`;
    return this.message;
  }
}

/** The `{message, issues}` of an error body, whatever shape it has. */
export function refusalOf(status: number, statusText: string, body: unknown): RunForgeError {
  const fallback = `${status} ${statusText}`.trim();
  if (body && typeof body === 'object') {
    const b = body as { message?: unknown; issues?: unknown };
    const issues = Array.isArray(b.issues) ? b.issues.filter(isIssue) : [];
    const message = Array.isArray(b.message) ? b.message.join('; ') : b.message;
    return new RunForgeError(status, typeof message === 'string' ? message : fallback, issues, body);
  }
  return new RunForgeError(status, typeof body === 'string' && body ? body : fallback, [], body);
}

function isIssue(v: unknown): v is FieldIssue {
  return !!v && typeof v === 'object' && typeof (v as FieldIssue).field === 'string';
}
