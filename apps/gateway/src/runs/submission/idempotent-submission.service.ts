import { HttpException, HttpStatus, Injectable, type OnModuleInit } from '@nestjs/common';
import { IdempotencyStore, newRunId, requestHash } from '@runforge/submission';
import { retryWhileUnavailable } from '@runforge/messaging';
import { Messaging, RUNFORGE_CONFIG, type RunForgeConfig } from '@runforge/service';
import { Inject } from '@nestjs/common';
import { ValidationFailed } from '../../common/validation';

export const IDEMPOTENCY_HEADER = 'idempotency-key';

/**
 * `Idempotency-Key` on a POST: the same key returns the same run id and 202 body (for 48 h), the
 * same key with a different body answers 422, and the work is published once. A retry after a
 * crash between claiming the key and publishing re-publishes the same run (same id and message id,
 * so the stream deduplicates it).
 */
@Injectable()
export class IdempotentSubmission implements OnModuleInit {
  private store?: IdempotencyStore;

  constructor(
    private readonly messaging: Messaging,
    @Inject(RUNFORGE_CONFIG) private readonly cfg: RunForgeConfig,
  ) {}

  async onModuleInit(): Promise<void> {
    this.store = await retryWhileUnavailable('the idempotency bucket', () =>
      IdempotencyStore.open(this.messaging.nc, this.cfg.topology, this.cfg.natsRequestTimeoutMs),
    );
  }

  async submit<R extends Record<string, unknown>>(
    key: string | undefined,
    kind: string,
    body: unknown,
    respond: (runId: string) => R,
    publish: (runId: string) => Promise<void>,
  ): Promise<R> {
    if (key === undefined) {
      const runId = newRunId();
      await publish(runId);
      return respond(runId);
    }
    if (key.length < 1 || key.length > 200) {
      throw new ValidationFailed([{ field: 'Idempotency-Key', reason: 'must be 1 to 200 characters' }]);
    }
    const runId = newRunId();
    const record = { bodyHash: requestHash(kind, body), kind, runId, response: respond(runId) };
    const claim = await (this.store as IdempotencyStore).claim(key, record);
    if (claim.claimed) {
      await publish(runId);
      return record.response;
    }
    const existing = claim.existing;
    if (existing.bodyHash !== record.bodyHash) {
      throw new HttpException(
        {
          statusCode: 422,
          error: 'Unprocessable Entity',
          message: `Idempotency-Key "${key}" was already used with a different request (run ${existing.runId})`,
          issues: [{ field: 'Idempotency-Key', reason: 'already used with a different request body' }],
        },
        HttpStatus.UNPROCESSABLE_ENTITY,
      );
    }
    if (!(await this.messaging.reader.lastOfType(existing.runId, 'RunRequested'))) await publish(existing.runId);
    return existing.response as R;
  }
}
