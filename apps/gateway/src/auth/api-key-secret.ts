import { createHash, randomBytes } from 'node:crypto';

/** Every API key starts so: easy to grep for in logs, code and secret scanners. */
export const SECRET_PREFIX = 'rf_';
const SECRET_PATTERN = /^rf_[A-Za-z0-9_-]{43}$/;

/** A new secret: 256 random bits, base64url, prefixed. */
export function newSecret(): string {
  return `${SECRET_PREFIX}${randomBytes(32).toString('base64url')}`;
}

/** Whether a string has the shape of a secret (a bearer token that doesn't is not an API key). */
export function looksLikeSecret(value: string): boolean {
  return SECRET_PATTERN.test(value);
}

/**
 * What is stored: SHA-256 of the secret. A secret carries 256 random bits, so a fast hash is
 * enough (nothing to brute-force); a slow password hash would only cost every request.
 */
export function hashSecret(secret: string): string {
  return createHash('sha256').update(secret).digest('hex');
}

/** The part of a secret that may be shown again (in listings): the prefix and 4 characters. */
export function displayPrefix(secret: string): string {
  return secret.slice(0, SECRET_PREFIX.length + 4);
}

const UNIT_MS = { m: 60_000, h: 3_600_000, d: 86_400_000 } as const;

/** `30d`, `12h`, `90m` → milliseconds; undefined when the text is not such a duration. */
export function parseLifetime(text: string): number | undefined {
  const m = /^([1-9][0-9]{0,5})([mhd])$/.exec(text.trim());
  if (!m) return undefined;
  return Number(m[1]) * UNIT_MS[m[2] as keyof typeof UNIT_MS];
}
