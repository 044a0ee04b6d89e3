import { createServer, type Server } from 'node:http';
import { generateKeyPairSync, sign, type KeyObject } from 'node:crypto';
import { eventsOf, withBus } from '../support/runs';
import { freePort, http, TestSystem } from '../support/system';

/**
 * OIDC bearer tokens against a JWKS this test serves itself. The tokens are signed here with
 * node:crypto (RS256); the gateway verifies them with jose.
 */
const ISSUER = 'https://idp.test';
const AUDIENCE = 'runforge';

function b64url(value: unknown): string {
  return Buffer.from(JSON.stringify(value)).toString('base64url');
}

function jwt(key: KeyObject, claims: Record<string, unknown>, kid = 'k1'): string {
  const now = Math.floor(Date.now() / 1000);
  const body = `${b64url({ alg: 'RS256', typ: 'JWT', kid })}.${b64url({ iss: ISSUER, aud: AUDIENCE, iat: now, exp: now + 300, ...claims })}`;
  return `${body}.${sign('RSA-SHA256', Buffer.from(body), key).toString('base64url')}`;
}

describe('OIDC bearer tokens', () => {
  let sys: TestSystem;
  let jwks: Server;
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const stranger = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey;
  const as = (token: string) => ({ authorization: `Bearer ${token}` });

  beforeAll(async () => {
    const port = await freePort();
    const jwk = { ...publicKey.export({ format: 'jwk' }), kid: 'k1', alg: 'RS256', use: 'sig' };
    jwks = createServer((_req, res) => {
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify({ keys: [jwk] }));
    });
    await new Promise<void>((resolve) => jwks.listen(port, '127.0.0.1', resolve));
    sys = await TestSystem.start(['gateway'], {
      RUNFORGE_OIDC_ISSUER: ISSUER,
      RUNFORGE_OIDC_AUDIENCE: AUDIENCE,
      RUNFORGE_OIDC_JWKS_URL: `http://127.0.0.1:${port}/jwks`,
      RUNFORGE_OIDC_ROLE_CLAIM: 'groups',
      RUNFORGE_OIDC_ROLE_MAP: 'rf-readers=viewer,rf-ops=operator,rf-admins=admin',
    });
  });

  afterAll(async () => {
    await sys?.stop();
    await new Promise((resolve) => jwks?.close(resolve));
  });

  it('maps the claim to the highest role and records the token subject as the principal', async () => {
    const token = jwt(privateKey, { sub: 'u-42', preferred_username: 'ada', groups: ['rf-readers', 'rf-ops'] });
    const me = await http(sys.gateway.url, 'GET', '/api/me', undefined, as(token));
    expect(me.body).toEqual({ principal: { kind: 'token', id: 'u-42', name: 'ada' }, role: 'operator' });

    const submitted = await http<{ id: string }>(
      sys.gateway.url,
      'POST',
      '/api/backtests',
      {
        strategy: 'sma-crossover',
        params: { fast: 5, slow: 20 },
        dataset: { synthetic: { bars: 500, seed: 1, timeframe: '1h' } },
      },
      as(token),
    );
    expect(submitted.status).toBe(202);
    const history = await withBus(sys, (bus) => bus.history(submitted.body.id));
    expect(eventsOf(history, 'RunRequested')[0]?.data.principal).toEqual({ kind: 'token', id: 'u-42', name: 'ada' });

    const reader = jwt(privateKey, { sub: 'u-7', email: 'bob@example.com', groups: 'rf-readers' });
    expect((await http(sys.gateway.url, 'GET', '/api/runs', undefined, as(reader))).status).toBe(200);
    const forbidden = await http(sys.gateway.url, 'POST', '/api/backtests', {}, as(reader));
    expect(forbidden.status).toBe(403);
  });

  it.each([
    ['another audience', () => jwt(privateKey, { sub: 'u', groups: ['rf-admins'], aud: 'someone-else' })],
    ['another issuer', () => jwt(privateKey, { sub: 'u', groups: ['rf-admins'], iss: 'https://evil.test' })],
    ['expired', () => jwt(privateKey, { sub: 'u', groups: ['rf-admins'], exp: Math.floor(Date.now() / 1000) - 60 })],
    ['signed by another key', () => jwt(stranger, { sub: 'u', groups: ['rf-admins'] })],
    ['no mapped group', () => jwt(privateKey, { sub: 'u', groups: ['staff'] })],
    ['not a JWT', () => 'definitely-not-a-token'],
  ])('refuses a token with %s as 401, like any bad credential', async (_what, make) => {
    const r = await http(sys.gateway.url, 'GET', '/api/runs', undefined, as(make()));
    expect(r.status).toBe(401);
    expect(r.body).toEqual({ statusCode: 401, message: 'authentication required' });
  });

  it('still takes API keys', async () => {
    expect((await http(sys.gateway.url, 'GET', '/api/me')).status).toBe(200);
  });
});
