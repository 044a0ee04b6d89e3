import type { ComponentChildren } from 'preact';
import { useState } from 'preact/hooks';
import { formatMetric, metricLabel, shortId } from '@runforge/client';
import type { ApiError, Run } from '../api';
import { fmtInt } from '../format';

/** Puts `text` on the clipboard; where the Clipboard API is refused, through a selected textarea. */
async function copyText(text: string): Promise<void> {
  try {
    await navigator.clipboard.writeText(text);
  } catch {
    const area = document.createElement('textarea');
    area.value = text;
    document.body.appendChild(area);
    area.select();
    document.execCommand('copy');
    area.remove();
  }
}

/**
 * A run id as lists show it: its tail (time-ordered ids share their head with their neighbours),
 * linked to the run, with a button that copies the whole id.
 */
export function RunId({ id, link = true }: { id: string; link?: boolean }) {
  const [copied, setCopied] = useState(false);
  const copy = (): void => {
    void copyText(id).then(() => {
      setCopied(true);
      window.setTimeout(() => setCopied(false), 1_500);
    });
  };
  return (
    <span class="run-id">
      {link ? (
        <a href={`/runs/${id}`} title={id} class="mono" data-testid="run-id">
          {shortId(id)}
        </a>
      ) : (
        <span class="mono" title={id} data-testid="run-id">
          {id}
        </span>
      )}
      <button
        type="button"
        class="link copy"
        aria-label={`Copy run id ${id}`}
        title="Copy the full id"
        data-testid="copy-id"
        onClick={copy}
      >
        {copied ? 'copied' : 'copy'}
      </button>
    </span>
  );
}

export function StatusBadge({ status }: { status: string }) {
  return (
    <span class={`badge badge-${status.toLowerCase()}`} data-testid="status-badge">
      {status}
    </span>
  );
}

export function Loading({ what }: { what: string }) {
  return (
    <p class="state state-loading" aria-busy="true">
      Loading {what}…
    </p>
  );
}

export function Empty({ children }: { children: ComponentChildren }) {
  return <p class="state state-empty">{children}</p>;
}

export function ErrorBox({ error, retry }: { error: ApiError | Error; retry?: () => void }) {
  const issues = 'issues' in error ? error.issues : [];
  return (
    <div class="state state-error" role="alert">
      <strong>{error.message}</strong>
      {issues.length > 0 && (
        <ul>
          {issues.map((i) => (
            <li key={i.field}>
              <code>{i.field}</code>: {i.reason}
            </li>
          ))}
        </ul>
      )}
      {retry && (
        <button type="button" onClick={retry}>
          Retry
        </button>
      )}
    </div>
  );
}

/**
 * Progress of a run in its own unit: bars for a backtest, combinations for an optimization, the
 * run's own percent for any other kind.
 */
export function progressOf(run: Run): { done: number; total: number; unit: 'Bars' | 'Combinations' | '%' } {
  if (run.kind !== 'backtest' && run.kind !== 'optimization') return { done: run.progress, total: 100, unit: '%' };
  if (run.kind === 'optimization') {
    return {
      done: run.completedCombinations + run.failedCombinations,
      total: run.totalCombinations ?? 0,
      unit: 'Combinations',
    };
  }
  return { done: run.processedBars, total: run.totalBars, unit: 'Bars' };
}

export function ProgressBar({ run, compact = false }: { run: Run; compact?: boolean }) {
  const { done, total, unit } = progressOf(run);
  const pct = total > 0 ? Math.min(100, (done / total) * 100) : run.status === 'Completed' ? 100 : 0;
  const label = unit === '%' ? `${fmtInt(done)}%` : `Processed ${fmtInt(done)} / ${fmtInt(total)} ${unit}`;
  return (
    <div class={compact ? 'progress compact' : 'progress'}>
      <div
        class={`progress-track status-${run.status.toLowerCase()}`}
        role="progressbar"
        aria-valuemin={0}
        aria-valuemax={100}
        aria-valuenow={Math.round(pct)}
        aria-label={label}
        data-testid="progress"
      >
        <div class="progress-fill" style={{ width: `${pct}%` }} />
      </div>
      {!compact && (
        <div class="progress-label">
          <span data-testid="progress-label">{label}</span>
          <span>{pct.toFixed(pct < 10 && pct > 0 ? 1 : 0)}%</span>
        </div>
      )}
    </div>
  );
}

/** Metrics as a definition grid, with the labels and units of the one table the CLI reads too. */
export function Metrics({ metrics }: { metrics: Record<string, unknown> }) {
  const entries = Object.entries(metrics);
  if (entries.length === 0) return <Empty>No metrics.</Empty>;
  return (
    <dl class="metrics" data-testid="metrics">
      {entries.map(([k, v]) => (
        <div key={k} class="metric">
          <dt title={k}>{metricLabel(k)}</dt>
          <dd>{formatMetric(k, v)}</dd>
        </div>
      ))}
    </dl>
  );
}

/** A button that asks before acting (cancel a run, delete…), in place rather than in a modal. */
export function ConfirmButton({
  label,
  question,
  confirmLabel,
  onConfirm,
  disabled,
  tone = 'danger',
}: {
  label: string;
  question: string;
  confirmLabel: string;
  onConfirm: () => Promise<void> | void;
  disabled?: boolean;
  tone?: 'danger' | 'plain';
}) {
  const [asking, setAsking] = useState(false);
  const [busy, setBusy] = useState(false);
  if (!asking) {
    return (
      <button type="button" class={tone} disabled={disabled} onClick={() => setAsking(true)}>
        {label}
      </button>
    );
  }
  return (
    <span class="confirm" role="group" aria-label={question}>
      <span>{question}</span>
      <button
        type="button"
        class={tone}
        disabled={busy}
        onClick={() => {
          setBusy(true);
          void Promise.resolve(onConfirm()).finally(() => {
            setBusy(false);
            setAsking(false);
          });
        }}
      >
        {confirmLabel}
      </button>
      <button type="button" disabled={busy} onClick={() => setAsking(false)}>
        Keep
      </button>
    </span>
  );
}

export function Section({
  title,
  children,
  actions,
  id,
}: {
  title: string;
  children: ComponentChildren;
  actions?: ComponentChildren;
  /** An anchor to scroll to (`logs`). */
  id?: string;
}) {
  return (
    <section class="card" id={id}>
      <header class="card-head">
        <h2>{title}</h2>
        {actions}
      </header>
      {children}
    </section>
  );
}
