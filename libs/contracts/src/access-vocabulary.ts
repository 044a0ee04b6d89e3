/**
 * Who may do what at the gateway. Plain constants with no imports, so the dashboard (`import type`
 * only) reads the same lists. A role includes the ones before it: an operator may do what a viewer
 * may, an admin what an operator may.
 */
export const ROLES = ['viewer', 'operator', 'admin'] as const;
export type Role = (typeof ROLES)[number];

export function roleAllows(held: Role, needed: Role): boolean {
  return ROLES.indexOf(held) >= ROLES.indexOf(needed);
}

export const PRINCIPAL_KINDS = ['key', 'token', 'scheduler'] as const;

/**
 * Who caused an event: an API key (its id and name), a bearer token (its subject and a display
 * name) or the scheduler firing a schedule. Never the secret itself.
 */
export interface Principal {
  readonly kind: (typeof PRINCIPAL_KINDS)[number];
  readonly id: string;
  readonly name: string;
}

/** The scheduler, as the principal of the runs it fires. */
export const SCHEDULER_PRINCIPAL: Principal = { kind: 'scheduler', id: 'scheduler', name: 'scheduler' };
