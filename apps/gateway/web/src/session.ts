import type { Principal, Role } from '@runforge/contracts';

/**
 * The signed-in API key: in sessionStorage only (gone when the tab closes; never in localStorage,
 * a cookie or a URL), sent as `Authorization: Bearer …` on every request and live stream.
 */
const STORAGE_KEY = 'runforge.apiKey';

export interface Identity {
  principal: Principal;
  role: Role;
}

const listeners = new Set<() => void>();

export function apiKey(): string | undefined {
  return sessionStorage.getItem(STORAGE_KEY) ?? undefined;
}

export function authHeaders(): Record<string, string> {
  const key = apiKey();
  return key ? { authorization: `Bearer ${key}` } : {};
}

/** Checks a key with `GET /api/me`; keeps it only if the gateway knows it. */
export async function signIn(key: string): Promise<Identity> {
  const res = await fetch('/api/me', { headers: { authorization: `Bearer ${key.trim()}` } });
  if (res.status === 401) throw new Error('the gateway does not know this key (or it was revoked or expired)');
  if (!res.ok) throw new Error(`the gateway answered ${res.status}`);
  sessionStorage.setItem(STORAGE_KEY, key.trim());
  for (const l of listeners) l();
  return (await res.json()) as Identity;
}

export function signOut(): void {
  sessionStorage.removeItem(STORAGE_KEY);
  for (const l of listeners) l();
}

/** Called on any sign-in or sign-out (a 401 signs out: the key was revoked or expired meanwhile). */
export function onSessionChange(listener: () => void): () => void {
  listeners.add(listener);
  return () => void listeners.delete(listener);
}
