import { useEffect, useState } from 'preact/hooks';
import { TERMINAL, type Run } from './api';
import { shortId } from './format';
import { EventStream } from './event-stream';

export interface Toast {
  key: number;
  tone: 'ok' | 'bad' | 'muted' | 'info';
  text: string;
  href?: string;
  /** What the link says ("View run" when not given). */
  linkLabel?: string;
  /** How long it stays (default 8 s): a failure's text takes longer to read. */
  ms?: number;
}

const TOAST_MS = 8_000;
let toasts: Toast[] = [];
let nextKey = 1;
const listeners = new Set<(t: Toast[]) => void>();
/** Runs already announced: the detail page, the list and the submit watcher may all see the same end. */
const announced = new Set<string>();

function emit(): void {
  for (const l of listeners) l(toasts);
}

export function toast(t: Omit<Toast, 'key'>): void {
  const key = nextKey++;
  toasts = [...toasts, { ...t, key }].slice(-5);
  emit();
  window.setTimeout(() => dismiss(key), t.ms ?? TOAST_MS);
}

export function dismiss(key: number): void {
  toasts = toasts.filter((t) => t.key !== key);
  emit();
}

/** A toast about a run's end, once per run whoever announces it first. */
export function announceEnd(runId: string, t: Omit<Toast, 'key'>): void {
  if (announced.has(runId)) return;
  announced.add(runId);
  toast(t);
}

/** One toast when a run ends (completed, failed or cancelled), with a link to it. */
export function notifyTerminal(run: Pick<Run, 'id' | 'kind' | 'status' | 'strategy'>): void {
  if (!TERMINAL.has(run.status)) return;
  const tone = run.status === 'Completed' ? 'ok' : run.status === 'Failed' ? 'bad' : 'muted';
  announceEnd(run.id, {
    tone,
    text: `${run.kind} ${shortId(run.id)} (${run.strategy}) ${run.status.toLowerCase()}`,
    href: `/runs/${run.id}`,
  });
}

/**
 * Follows a run submitted from this page until it ends, wherever the user navigates meanwhile,
 * so its end is announced. One stream per submitted run; closed at the end.
 */
export function watchUntilDone(id: string): void {
  const source = new EventStream(`/api/runs/${id}/stream`);
  let errors = 0;
  source.addEventListener('snapshot', (e) => {
    const run = JSON.parse(e.data) as Run;
    if (TERMINAL.has(run.status)) {
      notifyTerminal(run);
      source.close();
    }
  });
  source.addEventListener('end', () => source.close());
  // The stream reconnects by itself; give up after a few failures (the detail page polls).
  source.onerror = () => {
    if (++errors > 5) source.close();
  };
}

export function Toasts() {
  const [list, setList] = useState<Toast[]>(toasts);
  useEffect(() => {
    listeners.add(setList);
    return () => void listeners.delete(setList);
  }, []);
  return (
    <div class="toasts" role="status" aria-live="polite">
      {list.map((t) => (
        <div key={t.key} class={`toast toast-${t.tone}`} data-testid="toast">
          <span>{t.text}</span>
          {t.href && (
            <a href={t.href} class="toast-link">
              {t.linkLabel ?? 'View run'}
            </a>
          )}
          <button type="button" class="link" aria-label="Dismiss" onClick={() => dismiss(t.key)}>
            ×
          </button>
        </div>
      ))}
    </div>
  );
}
