import { useEffect, useState } from 'preact/hooks';
import { client, TERMINAL, type Run } from './api';
import { shortId } from './format';

export interface Toast {
  key: number;
  tone: 'ok' | 'bad' | 'muted' | 'info';
  text: string;
  /** The run it is about, shown before the text by its kind and id tail (an element of its own). */
  run?: { kind: string; id: string };
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

/** How long a failure's toast stays: its error takes time to read. */
const FAILURE_TOAST_MS = 20_000;
const MAX_ERROR_CHARS = 240;

/**
 * One toast when a run ends (completed, failed or cancelled), with a link to it; a failure's toast
 * says the error and links to the run's logs.
 */
export function notifyTerminal(
  run: Pick<Run, 'id' | 'kind' | 'status' | 'strategy'> & {
    errorMessage?: string | null;
    failureReason?: string | null;
  },
): void {
  if (!TERMINAL.has(run.status)) return;
  const subject = { kind: run.kind, id: run.id };
  const what = run.strategy ? `(${run.strategy}) ` : '';
  if (run.status === 'Failed') {
    const error = run.errorMessage ?? run.failureReason ?? 'no error message';
    const text = error.length > MAX_ERROR_CHARS ? `${error.slice(0, MAX_ERROR_CHARS - 1)}…` : error;
    announceEnd(run.id, {
      tone: 'bad',
      run: subject,
      text: `${what}failed: ${text}`,
      href: `/runs/${run.id}?view=logs`,
      linkLabel: 'View logs',
      ms: FAILURE_TOAST_MS,
    });
    return;
  }
  announceEnd(run.id, {
    tone: run.status === 'Completed' ? 'ok' : 'muted',
    run: subject,
    text: `${what}${run.status.toLowerCase()}`,
    href: `/runs/${run.id}`,
  });
}

/**
 * Follows a run submitted from this page until it ends, wherever the user navigates meanwhile,
 * so its end is announced (the typed client's `result`: the live stream, re-read and reconnected
 * if it drops).
 */
export function watchUntilDone(id: string): void {
  client.result(id).then(notifyTerminal, () => undefined);
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
          <span>
            {t.run && (
              <>
                {t.run.kind}{' '}
                <span class="mono" data-testid="toast-run-id">
                  {shortId(t.run.id)}
                </span>{' '}
              </>
            )}
            {t.text}
          </span>
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
