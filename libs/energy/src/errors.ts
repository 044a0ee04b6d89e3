import type { FieldIssue } from '@runforge/engine';

/** Stable codes: hosts branch on `code`, never on message text. */
export const ENERGY_ERROR_CODES = {
  INPUT_INVALID: 'ENERGY_INPUT_INVALID',
} as const;
export type EnergyErrorCode = (typeof ENERGY_ERROR_CODES)[keyof typeof ENERGY_ERROR_CODES];

/**
 * A model was given unusable input (a NaN price, an asset whose SoC bounds cross, a series that
 * does not cover the horizon). Every issue is listed, shaped for a 400 answer. An infeasible
 * model is *not* this error: that is a result with status `infeasible`.
 */
export class EnergyInputError extends Error {
  readonly code: EnergyErrorCode = ENERGY_ERROR_CODES.INPUT_INVALID;
  readonly issues: readonly FieldIssue[];

  constructor(issues: readonly FieldIssue[], options?: { cause?: unknown }) {
    super(issues.map((i) => `${i.field}: ${i.reason}`).join('; '), options);
    this.issues = issues;
    this.name = new.target.name;
  }
}

