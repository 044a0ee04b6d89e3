import type { Principal, Role } from '@runforge/contracts';

/**
 * The signed-in credential — an API key, or the access token of an OIDC sign-in — in
 * sessionStorage only (gone when the tab closes; never in localStorage, a cookie or a URL), sent as
 * `Authorization: Bearer …` on every request and live stream.
 */
const STORAGE_KEY = 'runforge.apiKey';
/** The issuer of an OIDC sign-in, shown beside the name; absent for an API key. */
const ISSUER_KEY = 'runforge.issuer';

export interface Identity {
  principal: Principal;
  role: Role;
}

/** What the sign-in page says after a 401 ended the session (the credential expired or was revoked). */
export const SESSION_ENDED =
  'Your session ended: the gateway no longer accepts your sign-in (expired or revoked). Sign in again.';

const listeners = new Set<() => void>();
let endedBecause: string | undefined;

export function apiKey(): string | undefined {
  return sessionStorage.getItem(STORAGE_KEY) ?? undefined;
}

/** The issuer the session came from, when it came from an OIDC sign-in. */
export function signedInWith(): string | undefined {
  return sessionStorage.getItem(ISSUER_KEY) ?? undefined;
}

export function authHeaders(): Record<string, string> {
  const key = apiKey();
  return key ? { authorization: `Bearer ${key}` } : {};
}

/** Checks a bearer credential with `GET /api/me`; keeps it only if the gateway accepts it. */
async function keep(credential: string, issuer: string | undefined, refused: string): Promise<Identity> {
  const res = await fetch('/api/me', { headers: { authorization: `Bearer ${credential}` } });
  if (res.status === 401) throw new Error(refused);
  if (!res.ok) throw new Error(`the gateway answered ${res.status}`);
  sessionStorage.setItem(STORAGE_KEY, credential);
  if (issuer) sessionStorage.setItem(ISSUER_KEY, issuer);
  else sessionStorage.removeItem(ISSUER_KEY);
  endedBecause = undefined;
  for (const l of listeners) l();
  return (await res.json()) as Identity;
}

export function signIn(key: string): Promise<Identity> {
  return keep(key.trim(), undefined, 'the gateway does not know this key (or it was revoked or expired)');
}

/** Keeps the access token of an OIDC sign-in, if the gateway accepts it (its audience, a mapped role). */
export function signInWithToken(accessToken: string, issuer: string): Promise<Identity> {
  return keep(
    accessToken,
    issuer,
    `the gateway refused the token from ${issuer} (is your account in a group that maps to a role?)`,
  );
}

/** Forgets the credential; `reason` is shown on the sign-in page (e.g. {@link SESSION_ENDED}). */
export function signOut(reason?: string): void {
  sessionStorage.removeItem(STORAGE_KEY);
  sessionStorage.removeItem(ISSUER_KEY);
  endedBecause = reason;
  for (const l of listeners) l();
}

/** Why the last session ended, if not by the user's own sign-out. */
export function signOutReason(): string | undefined {
  return endedBecause;
}

/** Called on any sign-in or sign-out (a 401 signs out: the credential was revoked or expired meanwhile). */
export function onSessionChange(listener: () => void): () => void {
  listeners.add(listener);
  return () => void listeners.delete(listener);
}
