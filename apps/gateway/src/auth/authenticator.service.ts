import { Injectable } from '@nestjs/common';
import { looksLikeSecret } from './api-key-secret';
import { ApiKeyStore, type KeyHolder } from './api-key-store';
import { OidcTokens } from './oidc-tokens';

/** Who a request's credential names, whatever kind of credential it is. */
export type Holder = KeyHolder;

/** `Authorization: Bearer <credential>` → the credential; anything else → undefined. */
export function bearerOf(header: string | undefined): string | undefined {
  const m = /^Bearer[ ]+([^\s]+)\s*$/i.exec(header ?? '');
  return m?.[1];
}

/**
 * Turns a request's bearer credential into a holder (principal + role), or undefined when it names
 * no one: missing, malformed, unknown, revoked or expired alike — callers answer all of them the same.
 */
@Injectable()
export class Authenticator {
  constructor(
    private readonly keys: ApiKeyStore,
    private readonly tokens: OidcTokens,
  ) {}

  async authenticate(authorization: string | undefined): Promise<Holder | undefined> {
    const credential = bearerOf(authorization);
    if (credential === undefined) return undefined;
    // An API key has its own shape (rf_…); anything else can only be an OIDC token.
    if (looksLikeSecret(credential)) return this.keys.authenticate(credential);
    return this.tokens.authenticate(credential);
  }
}
