import { render } from 'preact';
import { onLinkClick, useLocation } from './router';
import { Toasts } from './toasts';
import { EnergyPage } from './pages/energy';
import { NewRun } from './pages/new-run';
import { RunDetail } from './pages/run-detail';
import { RunsList } from './pages/runs-list';
import { Schedules } from './pages/schedules';
import { OidcCallback, SignedInAs, SignIn, useIdentity } from './sign-in';
import { CALLBACK_PATH } from './oidc';
import type { Identity } from './session';

function Page() {
  const loc = useLocation();
  const run = /^\/runs\/([A-Za-z0-9_-]+)\/?$/.exec(loc.path);
  if (run?.[1]) return <RunDetail key={run[1]} id={run[1]} />;
  if (loc.path === '/' || loc.path === '/runs') return <RunsList loc={loc} />;
  if (loc.path === '/new')
    return <NewRun initialKind={loc.search.get('kind') === 'optimization' ? 'optimization' : 'backtest'} />;
  if (loc.path === '/schedules') return <Schedules />;
  if (loc.path === '/energy') return <EnergyPage loc={loc} />;
  return (
    <p class="state state-empty">
      Nothing here. <a href="/">Back to the runs</a>.
    </p>
  );
}

function Nav({ identity }: { identity?: Identity }) {
  const { path } = useLocation();
  const item = (href: string, label: string, active: boolean) => (
    <a href={href} class={active ? 'active' : ''} aria-current={active ? 'page' : undefined}>
      {label}
    </a>
  );
  return (
    <nav class="top">
      <a href="/" class="brand">
        RunForge
      </a>
      {item('/', 'Runs', path === '/' || path.startsWith('/runs'))}
      {item('/new', 'New run', path === '/new')}
      {item('/schedules', 'Schedules', path === '/schedules')}
      {item('/energy', 'Energy', path === '/energy')}
      <SignedInAs identity={identity} />
    </nav>
  );
}

function App() {
  const { identity, signedIn } = useIdentity();
  const { path } = useLocation();
  if (path === CALLBACK_PATH && !signedIn)
    return (
      <main>
        <OidcCallback />
      </main>
    );
  if (!signedIn)
    return (
      <main>
        <SignIn />
      </main>
    );
  return (
    <div onClick={onLinkClick}>
      <Nav identity={identity} />
      <main>
        <Page />
      </main>
      <Toasts />
    </div>
  );
}

const root = document.getElementById('app');
if (root) {
  root.textContent = '';
  render(<App />, root);
}
