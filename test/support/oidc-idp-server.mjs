// A real OpenID Provider for the dashboard's sign-in test: panva's oidc-provider with its
// development login and consent pages (any login, any password). An ES module only, so it runs as
// its own process (jest on Node 20 cannot load it); started by test/support/oidc-idp.ts (startIdp).
//
// IDP_CONFIG (JSON): { port, clientId, redirectUri, resource, audience, groups: { login: [group] },
//                      shortLived: [login], shortTtlSeconds }
import { generateKeyPairSync } from 'node:crypto';
import Provider, { errors } from 'oidc-provider';

const cfg = JSON.parse(process.env.IDP_CONFIG ?? '{}');
const issuer = `http://127.0.0.1:${cfg.port}`;
const signingKey = {
  ...generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ format: 'jwk' }),
  kid: 'test-idp',
  alg: 'RS256',
  use: 'sig',
};
const groupsOf = (login) => cfg.groups[login] ?? [];

const provider = new Provider(issuer, {
  clients: [
    {
      client_id: cfg.clientId,
      // A public client: a browser keeps no secret, PKCE protects the code.
      token_endpoint_auth_method: 'none',
      redirect_uris: [cfg.redirectUri],
      response_types: ['code'],
      grant_types: ['authorization_code'],
    },
  ],
  jwks: { keys: [signingKey] },
  routes: { jwks: '/jwks' },
  pkce: { required: () => true },
  scopes: ['openid', 'profile', 'runforge'],
  claims: { openid: ['sub'], profile: ['preferred_username', 'groups'] },
  findAccount: (_ctx, sub) => ({
    accountId: sub,
    claims: () => ({ sub, preferred_username: sub, groups: groupsOf(sub) }),
  }),
  features: {
    devInteractions: { enabled: true },
    resourceIndicators: {
      enabled: true,
      useGrantedResource: () => true,
      // The gateway is the one resource server: JWT access tokens for its audience.
      getResourceServerInfo: (_ctx, indicator) => {
        if (indicator !== cfg.resource) throw new errors.InvalidTarget();
        return { scope: 'runforge', audience: cfg.audience, accessTokenFormat: 'jwt', jwt: { sign: { alg: 'RS256' } } };
      },
    },
  },
  // The claim the gateway maps to a role (RUNFORGE_OIDC_ROLE_CLAIM=groups) and the display name.
  extraTokenClaims: (_ctx, token) =>
    token.accountId ? { preferred_username: token.accountId, groups: groupsOf(token.accountId) } : undefined,
  ttl: {
    AccessToken: (_ctx, token) => ((cfg.shortLived ?? []).includes(token.accountId) ? cfg.shortTtlSeconds : 600),
  },
});
provider.on('server_error', (_ctx, err) => console.error('idp server_error', err));

provider.listen(cfg.port, '127.0.0.1').on('listening', () => console.log(`READY ${issuer}`));
