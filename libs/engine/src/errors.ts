/** One problem with one input field, shaped for a 400 answer: `{ field: 'params.fast', reason: '...' }`. */
export interface FieldIssue {
  field: string;
  reason: string;
}

/**
 * Codes are part of the public contract: hosts branch on `code`, never on message text.
 * Kept as a const object + union (no `enum`) so the codes are plain strings on the wire.
 */
export const ENGINE_ERROR_CODES = {
  STRATEGY_PARAMS_INVALID: 'STRATEGY_PARAMS_INVALID',
  CONFIG_INVALID: 'CONFIG_INVALID',
  SPEC_INVALID: 'SPEC_INVALID',
  NO_BARS: 'NO_BARS',
  ABORTED: 'ABORTED',
  INVALID_NUMBERS: 'INVALID_NUMBERS',
  NOT_DONE: 'NOT_DONE',
} as const;
export type EngineErrorCode = (typeof ENGINE_ERROR_CODES)[keyof typeof ENGINE_ERROR_CODES];

/** A broken invariant of the engine's inputs or outputs. Carries a stable `code` and an optional `cause`. */
export class EngineError extends Error {
  readonly code: string;

  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
    // The class name survives minification-free builds and makes logged stacks self-describing.
    this.name = new.target.name;
  }
}

/** A strategy's parameters are unusable (per-parameter or cross-parameter rule). */
export class StrategyParamError extends EngineError {
  /** The offending field, e.g. `params.fast` or `strategy`. */
  readonly field: string;
  /** Every issue found, when more than one (the message names the first). */
  readonly issues: readonly FieldIssue[];

  constructor(field: string, message: string, options?: { cause?: unknown; issues?: readonly FieldIssue[] }) {
    super(ENGINE_ERROR_CODES.STRATEGY_PARAMS_INVALID, message, options);
    this.field = field;
    this.issues = options?.issues ?? [{ field, reason: message }];
  }
}

/** Cooperative cancellation observed between chunks; `processedBars` lets a host record how far it got. */
export class BacktestAbortedError extends EngineError {
  readonly processedBars: number;

  constructor(processedBars: number, options?: { cause?: unknown }) {
    super(ENGINE_ERROR_CODES.ABORTED, `backtest aborted after ${processedBars} bars`, options);
    this.processedBars = processedBars;
  }
}
