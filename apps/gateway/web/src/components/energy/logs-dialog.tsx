import { useEffect, useRef } from 'preact/hooks';
import { TERMINAL, type Run } from '../../api';
import { shortId } from '../../format';
import { LogsViewer } from '../logs-viewer';
import { StatusBadge } from '../ui';

/**
 * A job's logs in a modal dialog (native `<dialog>`: focus kept inside, Escape closes), levels
 * coloured, filtered by minimum level. Open while mounted; `run` is what the page knows of the job.
 */
export function LogsDialog({ runId, run, onClose }: { runId: string; run: Run | undefined; onClose: () => void }) {
  const ref = useRef<HTMLDialogElement>(null);
  useEffect(() => {
    const dialog = ref.current;
    if (dialog && !dialog.open) dialog.showModal();
    return () => dialog?.close();
  }, []);
  // The lines are read again as the job moves on, and once more when it ends.
  const version = run ? run.progress + (TERMINAL.has(run.status) ? 1_000 : 0) : 0;
  return (
    <dialog ref={ref} class="logs-dialog" data-testid="logs-dialog" aria-labelledby="logs-title" onClose={onClose}>
      <header class="card-head">
        <h2 id="logs-title">
          Logs · {run ? `${run.kind.toUpperCase()} ` : ''}
          <code>{shortId(runId)}</code> {run && <StatusBadge status={run.status} />}
        </h2>
        <button type="button" class="link close" aria-label="Close logs" onClick={onClose}>
          ×
        </button>
      </header>
      {run?.errorMessage && <p class="error-message">{run.errorMessage}</p>}
      <LogsViewer runId={runId} version={version} />
    </dialog>
  );
}
