import { useEffect, useState } from 'preact/hooks';
import { get } from './api';
import { completeOidcSignIn, startOidcSignIn, type OidcConfig } from './oidc';
import { navigate } from './router';
import {
  apiKey,
  onSessionChange,
  signedInWith,
  signIn,
  signInWithToken,
  signOut,
  signOutReason,
  type Identity,
} from './session';

/** `GET /api/auth/config` (open): the OIDC issuer the dashboard may sign in with, if any. */
async function authConfig(): Promise<OidcConfig | null> {
  const res = await fetch('/api/auth/config');
  if (!res.ok) return null;
  return ((await res.json()) as { oidc: OidcConfig | null }).oidc;
}

function useOidcConfig(): OidcConfig | null | undefined {
  const [config, setConfig] = useState<OidcConfig | null | undefined>(undefined);
  useEffect(() => {
    authConfig().then(setConfig, () => setConfig(null));
  }, []);
  return config;
}

const hostOf = (issuer: string): string => {
  try {
    return new URL(issuer).host;
  } catch {
    return issuer;
  }
};

/** Who is signed in (undefined while unknown or signed out), kept current across sign-in and out. */
export function useIdentity(): { identity?: Identity; signedIn: boolean } {
  const [signedIn, setSignedIn] = useState(apiKey() !== undefined);
  const [identity, setIdentity] = useState<Identity | undefined>(undefined);
  useEffect(() => onSessionChange(() => setSignedIn(apiKey() !== undefined)), []);
  useEffect(() => {
    setIdentity(undefined);
    if (signedIn)
      get<Identity>('/api/me')
        .then(setIdentity)
        .catch(() => undefined);
  }, [signedIn]);
  return { identity, signedIn };
}

/**
 * The sign-in page: an API key (`npm start` prints the local admin's; `npm run keys` makes others)
 * and, when the gateway names an OIDC issuer, "Sign in with <issuer>" beside it.
 */
export function SignIn({ failure }: { failure?: string }) {
  const [key, setKey] = useState('');
  const [error, setError] = useState<string | undefined>(failure ?? signOutReason());
  const oidc = useOidcConfig();
  const [busy, setBusy] = useState(false);
  const submit = async (e: Event): Promise<void> => {
    e.preventDefault();
    setBusy(true);
    setError(undefined);
    try {
      await signIn(key);
    } catch (err) {
      setError(err instanceof Error ? err.message : String(err));
    } finally {
      setBusy(false);
    }
  };
  const withIssuer = async (config: OidcConfig): Promise<void> => {
    setBusy(true);
    setError(undefined);
    try {
      await startOidcSignIn(config, location.pathname + location.search);
    } catch (err) {
      setError(`could not reach ${config.issuer}: ${err instanceof Error ? err.message : String(err)}`);
      setBusy(false);
    }
  };
  return (
    <form class="card sign-in" onSubmit={(e) => void submit(e)}>
      <h1>Sign in to RunForge</h1>
      {oidc && (
        <div class="sign-in-oidc">
          <button type="button" class="button primary" disabled={busy} onClick={() => void withIssuer(oidc)}>
            Sign in with {hostOf(oidc.issuer)}
          </button>
          <p class="muted">or with an API key:</p>
        </div>
      )}
      <p class="muted">
        Paste an API key. It is kept for this tab only. <code>npm start</code> prints the local admin key;{' '}
        <code>npm run keys -- create --role viewer --name me</code> makes another.
      </p>
      <label>
        API key
        <input
          type="password"
          name="apiKey"
          autoComplete="off"
          required
          value={key}
          onInput={(e) => setKey((e.target as HTMLInputElement).value)}
        />
      </label>
      {error && (
        <p class="error" role="alert">
          {error}
        </p>
      )}
      <button type="submit" class="button primary" disabled={busy || key.trim() === ''}>
        Sign in
      </button>
    </form>
  );
}

/**
 * The way back from the issuer ({@link CALLBACK_PATH}): trades the code for tokens, keeps the access
 * token if the gateway accepts it, and returns to the page the sign-in started from.
 */
export function OidcCallback() {
  const [failure, setFailure] = useState<string | undefined>(undefined);
  useEffect(() => {
    const finish = async (): Promise<void> => {
      const config = await authConfig();
      if (!config) throw new Error('the gateway has no OIDC sign-in configured');
      const { accessToken, returnTo } = await completeOidcSignIn(config);
      await signInWithToken(accessToken, config.issuer);
      navigate(returnTo, true);
    };
    finish().catch((err: unknown) => {
      history.replaceState(null, '', '/');
      setFailure(err instanceof Error ? err.message : String(err));
    });
  }, []);
  if (failure) return <SignIn failure={failure} />;
  return <p class="state state-loading">Signing in…</p>;
}

/** `name (role)`, the issuer of an OIDC sign-in, and a sign-out button, for the top bar. */
export function SignedInAs({ identity }: { identity?: Identity }) {
  const issuer = signedInWith();
  return (
    <span class="signed-in" data-testid="signed-in">
      {identity ? (
        <span>
          {identity.principal.name} <span class="muted">({identity.role})</span>
          {issuer && <span class="muted"> via {hostOf(issuer)}</span>}
        </span>
      ) : null}
      <button type="button" class="link" onClick={() => signOut()}>
        Sign out
      </button>
    </span>
  );
}
