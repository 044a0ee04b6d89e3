import { oidcSettingsFrom } from './oidc-tokens';

describe('oidcSettingsFrom: the dashboard’s sign-in', () => {
  const base = { RUNFORGE_OIDC_ISSUER: 'https://idp.example/realms/rf', RUNFORGE_OIDC_AUDIENCE: 'runforge' };

  it('given no client id, then the dashboard signs in with keys only', () => {
    expect(oidcSettingsFrom(base)?.dashboard).toBeUndefined();
  });

  it('given a client id, then the issuer, the client id and the default scopes are served', () => {
    expect(oidcSettingsFrom({ ...base, RUNFORGE_OIDC_CLIENT_ID: 'dash' })?.dashboard).toEqual({
      issuer: 'https://idp.example/realms/rf',
      clientId: 'dash',
      scopes: 'openid profile email',
    });
  });

  it('given scopes and a resource, then both are served as configured', () => {
    const settings = oidcSettingsFrom({
      ...base,
      RUNFORGE_OIDC_CLIENT_ID: 'dash',
      RUNFORGE_OIDC_SCOPES: 'openid runforge',
      RUNFORGE_OIDC_RESOURCE: 'https://runforge.example/api',
    });
    expect(settings?.dashboard).toMatchObject({ scopes: 'openid runforge', resource: 'https://runforge.example/api' });
  });

  it('given a resource or an issuer that is not an absolute URL, then the gateway refuses to start, naming it', () => {
    expect(() =>
      oidcSettingsFrom({ ...base, RUNFORGE_OIDC_CLIENT_ID: 'dash', RUNFORGE_OIDC_RESOURCE: 'runforge-api' }),
    ).toThrow('RUNFORGE_OIDC_RESOURCE: "runforge-api" is not an absolute URL');
    expect(() =>
      oidcSettingsFrom({ ...base, RUNFORGE_OIDC_ISSUER: 'idp.example', RUNFORGE_OIDC_CLIENT_ID: 'dash' }),
    ).toThrow('RUNFORGE_OIDC_ISSUER: "idp.example" is not an absolute URL');
  });
});
