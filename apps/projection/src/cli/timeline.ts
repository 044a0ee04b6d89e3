import { isEnergyRun, type RunEvent } from '@runforge/contracts';
import type { StoredRunEvent } from '@runforge/messaging';

const short = (s: string, n = 100): string => {
  const one = s.replace(/\s+/g, ' ').trim();
  return one.length > n ? `${one.slice(0, n - 1)}…` : one;
};

const fmtParams = (p: Record<string, unknown>): string =>
  Object.entries(p)
    .map(([k, v]) => `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`)
    .join(' ');

/** An optimization's axes: `fast 2..40 step 1, slow [20, 30]`. */
const fmtAxes = (axes: Record<string, unknown>): string =>
  Object.entries(axes)
    .map(([k, a]) => {
      if (Array.isArray(a)) return `${k} [${a.map((v) => JSON.stringify(v)).join(', ')}]`;
      const r = a as { min: number; max: number; step: number };
      return `${k} ${r.min}..${r.max} step ${r.step}`;
    })
    .join(', ');

/** One line saying what an event means, for people reading an audit trail. */
export function describeEvent(e: RunEvent): string {
  switch (e.type) {
    case 'RunRequested': {
      const d = e.data;
      const size =
        d.kind === 'optimization' ? `${d.totalCombinations} combinations × ${d.totalBars} bars` : `${d.totalBars} bars`;
      const by = d.scheduleId ? `schedule ${d.scheduleId}` : d.triggeredBy;
      if (isEnergyRun(d)) {
        const h = `${d.horizon.intervals} intervals from ${d.horizon.start}`;
        return `${d.kind} over data source ${d.request.data_source_id}, ${h}; by ${by}${d.request.triggered_by ? ` (${d.request.triggered_by})` : ''}`;
      }
      if (d.kind === 'program') {
        const params = Object.keys(d.request.params).length > 0 ? ` ${short(JSON.stringify(d.request.params))}` : '';
        return `program ${d.program}${params}; by ${by}${d.retryOf ? `; retry of ${d.retryOf}` : ''}`;
      }
      const what = [d.request.strategy, fmtParams(d.request.params)];
      if (d.kind === 'optimization') {
        what.push(`over ${fmtAxes(d.request.axes)}`);
        if (d.request.constraints.length > 0) what.push(`where ${d.request.constraints.join(' and ')}`);
      }
      return `${d.kind} ${what.filter(Boolean).join(' ')}; ${size}; by ${by}${d.retryOf ? `; retry of ${d.retryOf}` : ''}`;
    }
    case 'RunStarted':
      return `started on ${e.data.workerId} (${e.data.totalBars} bars)`;
    case 'BarProgressed': {
      const pct = e.data.totalBars > 0 ? (100 * e.data.processedBars) / e.data.totalBars : 100;
      return `${e.data.processedBars}/${e.data.totalBars} bars (${pct.toFixed(1)}%)`;
    }
    case 'TrialCompleted':
      return `trial #${e.data.index} ${fmtParams(e.data.params)} score ${e.data.score}`;
    case 'TrialFailed':
      return `trial #${e.data.index} ${fmtParams(e.data.params)} failed: ${short(e.data.errorMessage)}`;
    case 'TrialsRecorded': {
      const failed = e.data.outcomes.filter((o) => o.status === 'Failed').length;
      const first = e.data.outcomes[0]?.index ?? 0;
      const last = e.data.outcomes[e.data.outcomes.length - 1]?.index ?? first;
      return `${e.data.outcomes.length} trials recorded (#${first}…#${last}), ${failed} failed`;
    }
    case 'RunProgressed':
      return `progress ${e.data.percent}%`;
    case 'RunCompleted':
      return `completed in ${(e.data.durationMs / 1000).toFixed(1)} s`;
    case 'RunFailed':
      return `failed (${e.data.reason}): ${short(e.data.errorMessage)}`;
    case 'RunCancellationRequested':
      return `cancellation requested by ${e.data.requestedBy}${e.data.reason ? `: ${short(e.data.reason)}` : ''}`;
    case 'RunCancelled':
      return `cancelled${e.data.reason ? `: ${short(e.data.reason)}` : ''}`;
    case 'RunAttemptAbandoned':
      return `attempt ${e.data.abandonedAttempt} abandoned (${e.data.reason})${e.data.detail ? `: ${short(e.data.detail)}` : ''}`;
    case 'RunLogged':
      return `[${e.data.level}] ${short(e.data.message, 160)}`;
    default: {
      const never: never = e;
      return String(never);
    }
  }
}

/** The readable timeline of `npm run replay -- <runId>`: one line per event, in stream order. */
export function formatTimeline(runId: string, history: readonly StoredRunEvent[]): string {
  const lines = [`run ${runId}: ${history.length} event(s)`];
  const typeWidth = Math.max(4, ...history.map((h) => h.event.type.length));
  const seqWidth = Math.max(3, ...history.map((h) => String(h.seq).length));
  lines.push(
    `${'seq'.padStart(seqWidth)}  ${'stored at (UTC)'.padEnd(24)}  ${'type'.padEnd(typeWidth)}  v  att  detail`,
  );
  for (const h of history) {
    const e = h.event;
    lines.push(
      `${String(h.seq).padStart(seqWidth)}  ${h.storedAt.padEnd(24)}  ${e.type.padEnd(typeWidth)}  ${e.version}  ${String(e.attempt).padStart(3)}  ${describeEvent(e)}`,
    );
  }
  return lines.join('\n');
}
