import type { MessageHandler } from '@nestjs/microservices';
import { isObservable, lastValueFrom } from 'rxjs';

/** One binding's consumption (a pull loop, a batch loop, a subscription). */
export interface Runner {
  start(): void;
  /** Stops taking messages; resolves once what was taken has been handled and settled. */
  drain(): Promise<void>;
}

export type Handler = MessageHandler<unknown, unknown, unknown>;

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Calls a Nest handler and waits for its result, an Observable included (Nest turns a throw into an erroring one). */
export async function invoke(handler: Handler, data: unknown, ctx: unknown): Promise<void> {
  const out: unknown = await handler(data, ctx);
  if (isObservable(out)) await lastValueFrom(out, { defaultValue: undefined });
}

export const causeOf = (err: unknown): string =>
  err instanceof Error
    ? err.message
    : typeof err === 'object' && err !== null && 'message' in err
      ? String(err.message)
      : String(err);
