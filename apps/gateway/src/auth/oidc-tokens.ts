import { Injectable, Logger } from '@nestjs/common';
import { ROLES, roleAllows, type Role } from '@runforge/contracts';
import type { KeyHolder } from './api-key-store';

/**
 * OIDC/JWT bearer tokens (see docs/security.md): verified with `jose` against the issuer's JWKS,
 * for deployments with single sign-on. Off unless `RUNFORGE_OIDC_ISSUER` is set.
 */
export interface OidcSettings {
  readonly issuer: string;
  readonly audience: string;
  readonly jwksUrl: string;
  /** Dotted path of the claim holding the user's groups or roles, e.g. `roles`, `realm_access.roles`. */
  readonly roleClaim: string;
  /** Claim value → role; a token's role is the highest its values map to. */
  readonly roleMap: ReadonlyMap<string, Role>;
  /** Claims tried in order for the principal's display name. */
  readonly nameClaims: readonly string[];
  /** The dashboard's sign-in through the issuer; absent unless `RUNFORGE_OIDC_CLIENT_ID` is set. */
  readonly dashboard?: DashboardOidc;
}

/**
 * What the dashboard needs to run the authorization code flow with PKCE as a public client (no
 * secret: a browser cannot keep one). Served open by `GET /api/auth/config`.
 */
export interface DashboardOidc {
  readonly issuer: string;
  readonly clientId: string;
  /** Space-separated, as the authorization request sends them. */
  readonly scopes: string;
  /** RFC 8707 `resource` for IdPs that pick the access token's audience by it. */
  readonly resource?: string;
}

function absoluteUrl(name: string, value: string): string {
  try {
    return new URL(value).href;
  } catch {
    throw new Error(`${name}: "${value}" is not an absolute URL`);
  }
}

export function oidcSettingsFrom(env: NodeJS.ProcessEnv = process.env): OidcSettings | undefined {
  const issuer = env.RUNFORGE_OIDC_ISSUER;
  if (!issuer) return undefined;
  const audience = env.RUNFORGE_OIDC_AUDIENCE;
  if (!audience) throw new Error('RUNFORGE_OIDC_AUDIENCE must be set with RUNFORGE_OIDC_ISSUER');
  const roleMap = new Map<string, Role>();
  for (const pair of (env.RUNFORGE_OIDC_ROLE_MAP ?? '').split(',').filter((p) => p.trim())) {
    const [value, role] = pair.split('=').map((s) => s.trim());
    if (!value || !role || !(ROLES as readonly string[]).includes(role))
      throw new Error(`RUNFORGE_OIDC_ROLE_MAP: "${pair}" is not claimValue=viewer|operator|admin`);
    roleMap.set(value, role as Role);
  }
  const clientId = env.RUNFORGE_OIDC_CLIENT_ID?.trim();
  const resource = env.RUNFORGE_OIDC_RESOURCE?.trim();
  // The dashboard connects to the issuer: its origin goes into the CSP's connect-src.
  if (clientId) absoluteUrl('RUNFORGE_OIDC_ISSUER', issuer);
  return {
    issuer,
    audience,
    dashboard: clientId
      ? {
          issuer,
          clientId,
          scopes: env.RUNFORGE_OIDC_SCOPES?.trim() || 'openid profile email',
          ...(resource ? { resource: absoluteUrl('RUNFORGE_OIDC_RESOURCE', resource) } : {}),
        }
      : undefined,
    jwksUrl: env.RUNFORGE_OIDC_JWKS_URL ?? `${issuer.replace(/\/$/, '')}/.well-known/jwks.json`,
    roleClaim: env.RUNFORGE_OIDC_ROLE_CLAIM ?? 'roles',
    roleMap,
    nameClaims: ['preferred_username', 'email', 'name', 'sub'],
  };
}

/** The highest role the claim's values map to (a string or a list of strings). */
export function roleOf(claims: Record<string, unknown>, settings: OidcSettings): Role | undefined {
  let value: unknown = claims;
  for (const part of settings.roleClaim.split('.'))
    value = value && typeof value === 'object' ? (value as Record<string, unknown>)[part] : undefined;
  const values = Array.isArray(value) ? value : [value];
  let best: Role | undefined;
  for (const v of values) {
    const role = typeof v === 'string' ? settings.roleMap.get(v) : undefined;
    if (role && (!best || roleAllows(role, best))) best = role;
  }
  return best;
}

@Injectable()
export class OidcTokens {
  private readonly log = new Logger('Auth');
  private readonly settings = oidcSettingsFrom();
  private verifier?: Promise<(token: string) => Promise<Record<string, unknown>>>;

  get enabled(): boolean {
    return this.settings !== undefined;
  }

  /** The holder of a valid token with a mapped role; undefined for anything else (answered 401). */
  async authenticate(token: string): Promise<KeyHolder | undefined> {
    const settings = this.settings;
    if (!settings) return undefined;
    this.verifier ??= this.makeVerifier(settings);
    let claims: Record<string, unknown>;
    try {
      claims = await (await this.verifier)(token);
    } catch (err) {
      this.log.debug(`bearer token refused: ${(err as Error).message}`);
      return undefined;
    }
    const role = roleOf(claims, settings);
    const sub = typeof claims.sub === 'string' ? claims.sub : undefined;
    if (!role || !sub) return undefined;
    const name = settings.nameClaims.map((c) => claims[c]).find((v): v is string => typeof v === 'string') ?? sub;
    return { principal: { kind: 'token', id: sub, name }, role };
  }

  private async makeVerifier(s: OidcSettings): Promise<(token: string) => Promise<Record<string, unknown>>> {
    // jose is an ES module: loaded with import() from this CommonJS build.
    const jose = await import('jose');
    const jwks = jose.createRemoteJWKSet(new URL(s.jwksUrl));
    return async (token) => (await jose.jwtVerify(token, jwks, { issuer: s.issuer, audience: s.audience })).payload;
  }
}
