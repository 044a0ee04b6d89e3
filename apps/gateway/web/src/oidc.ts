import * as oauth from 'oauth4webapi';

/**
 * The dashboard's OIDC sign-in: the authorization code flow with PKCE, as a public client (a
 * browser keeps no secret), through oauth4webapi. The gateway says where and as whom
 * (`GET /api/auth/config`); the access token it returns is the session's bearer credential.
 */
export interface OidcConfig {
  issuer: string;
  clientId: string;
  scopes: string;
  resource?: string;
}

export const CALLBACK_PATH = '/auth/callback';
/** The PKCE verifier and state between the redirect to the issuer and the way back, in this tab only. */
const PENDING = 'runforge.oidc.pending';

interface Pending {
  verifier: string;
  state: string;
  returnTo: string;
}

const redirectUri = (): string => `${location.origin}${CALLBACK_PATH}`;

/** Plain-HTTP issuers (a local IdP in development and tests) are allowed; oauth4webapi refuses them otherwise. */
function transport(issuer: URL): { [oauth.allowInsecureRequests]?: boolean } {
  return issuer.protocol === 'http:' ? { [oauth.allowInsecureRequests]: true } : {};
}

async function discover(config: OidcConfig): Promise<oauth.AuthorizationServer> {
  const issuer = new URL(config.issuer);
  const response = await oauth.discoveryRequest(issuer, { algorithm: 'oidc', ...transport(issuer) });
  return oauth.processDiscoveryResponse(issuer, response);
}

/** Sends the browser to the issuer's login; it comes back to {@link CALLBACK_PATH}. */
export async function startOidcSignIn(config: OidcConfig, returnTo: string): Promise<void> {
  const as = await discover(config);
  if (!as.authorization_endpoint) throw new Error(`${config.issuer} has no authorization endpoint`);
  const pending: Pending = {
    verifier: oauth.generateRandomCodeVerifier(),
    state: oauth.generateRandomState(),
    returnTo,
  };
  sessionStorage.setItem(PENDING, JSON.stringify(pending));
  const url = new URL(as.authorization_endpoint);
  url.search = new URLSearchParams({
    client_id: config.clientId,
    redirect_uri: redirectUri(),
    response_type: 'code',
    scope: config.scopes,
    state: pending.state,
    code_challenge: await oauth.calculatePKCECodeChallenge(pending.verifier),
    code_challenge_method: 'S256',
    ...(config.resource ? { resource: config.resource } : {}),
  }).toString();
  location.assign(url.href);
}

/** On {@link CALLBACK_PATH}: checks the answer against the pending state and trades the code for tokens. */
export async function completeOidcSignIn(config: OidcConfig): Promise<{ accessToken: string; returnTo: string }> {
  const raw = sessionStorage.getItem(PENDING);
  sessionStorage.removeItem(PENDING);
  if (!raw) throw new Error('no sign-in was started from this tab: start again');
  const pending = JSON.parse(raw) as Pending;
  const as = await discover(config);
  const client: oauth.Client = { client_id: config.clientId };
  const issuer = new URL(config.issuer);
  let params: URLSearchParams;
  try {
    params = oauth.validateAuthResponse(as, client, new URL(location.href), pending.state);
  } catch (err) {
    if (err instanceof oauth.AuthorizationResponseError)
      throw new Error(`${config.issuer} refused the sign-in: ${err.error_description ?? err.error}`);
    throw err;
  }
  const response = await oauth.authorizationCodeGrantRequest(
    as,
    client,
    oauth.None(),
    params,
    redirectUri(),
    pending.verifier,
    {
      ...transport(issuer),
      ...(config.resource ? { additionalParameters: { resource: config.resource } } : {}),
    },
  );
  const tokens = await oauth.processAuthorizationCodeResponse(as, client, response);
  return { accessToken: tokens.access_token, returnTo: /^\/(?!\/)/.test(pending.returnTo) ? pending.returnTo : '/' };
}
