import { useEffect, useState } from 'preact/hooks';
import { get } from './api';
import { apiKey, onSessionChange, signIn, signOut, type Identity } from './session';

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

/** The sign-in form: an API key (`npm start` prints the local admin's; `npm run keys` makes others). */
export function SignIn() {
  const [key, setKey] = useState('');
  const [error, setError] = useState<string | undefined>(undefined);
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
  return (
    <form class="card sign-in" onSubmit={(e) => void submit(e)}>
      <h1>Sign in to RunForge</h1>
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

/** `name (role)` and a sign-out button, for the top bar. */
export function SignedInAs({ identity }: { identity?: Identity }) {
  return (
    <span class="signed-in" data-testid="signed-in">
      {identity ? (
        <span>
          {identity.principal.name} <span class="muted">({identity.role})</span>
        </span>
      ) : null}
      <button type="button" class="link" onClick={signOut}>
        Sign out
      </button>
    </span>
  );
}
