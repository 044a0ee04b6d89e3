import { Presets, SingleBar } from 'cli-progress';
import { isTerminal, progressOf, type StreamedRun } from '@runforge/client';
import { EXIT, type Context } from '../context';
import { endSummary, PaceMeter, progressDetail, progressLine } from '../render/run';

/** The exit code of a run's ending. */
export function exitOfStatus(status: string): number {
  if (status === 'Completed') return EXIT.ok;
  if (status === 'Cancelled') return EXIT.cancelled;
  return EXIT.failed;
}

/** How progress is drawn: a live bar on a terminal, else one line per change (logs, CI, tests). */
interface ProgressView {
  update(run: StreamedRun): void;
  stop(): void;
}

function barView(meter: PaceMeter): ProgressView {
  const bar = new SingleBar(
    {
      format: '{bar} {percentage}% | {detail}',
      barsize: 20,
      hideCursor: true,
      clearOnComplete: false,
      stream: process.stderr,
      // The figures are ours (rate and ETA per unit of the kind); the bar only draws them.
      etaBuffer: 1,
    },
    Presets.shades_classic,
  );
  let started = false;
  return {
    update(run) {
      const percent = progressOf(run).percent;
      const detail = progressDetail(run, meter.sample(run, Date.now()));
      if (!started) {
        bar.start(100, percent, { detail });
        started = true;
      } else bar.update(percent, { detail });
    },
    stop: () => {
      if (started) bar.stop();
    },
  };
}

function lineView(meter: PaceMeter, note: (text: string) => void): ProgressView {
  let last = '';
  return {
    update(run) {
      const line = progressLine(run, meter.sample(run, Date.now()));
      // Rate and ETA move on every sample: print when the status or the progress moved.
      const key = `${run.status} ${progressOf(run).done} ${progressOf(run).failed}`;
      if (key !== last) note(line);
      last = key;
    },
    stop: () => undefined,
  };
}

/**
 * Follows a run to its end: a live bar (or lines), then the result summary; answers the exit code
 * of its ending. Ctrl-C stops watching and leaves the run alone (exit 130, as the shell's own).
 * `--json` writes each snapshot as one JSON line.
 */
export async function watchRun(ctx: Context, id: string): Promise<number> {
  const stop = new AbortController();
  let interrupted = false;
  const onInterrupt = (): void => {
    interrupted = true;
    stop.abort();
  };
  process.once('SIGINT', onInterrupt);
  const meter = new PaceMeter();
  const view = ctx.json ? undefined : process.stderr.isTTY ? barView(meter) : lineView(meter, (text) => ctx.note(text));
  let last: StreamedRun | undefined;
  try {
    for await (const run of ctx.client.watch(id, { signal: stop.signal })) {
      last = run;
      if (ctx.json) process.stdout.write(`${JSON.stringify(run)}\n`);
      else view?.update(run);
    }
  } finally {
    view?.stop();
    process.removeListener('SIGINT', onInterrupt);
  }
  if (interrupted || !last || !isTerminal(last.status)) {
    ctx.note(`stopped watching; run ${id} goes on (runforge watch ${id} to follow it again)`);
    return EXIT.cancelled;
  }
  if (!ctx.json) ctx.out(endSummary(last));
  return exitOfStatus(last.status);
}
