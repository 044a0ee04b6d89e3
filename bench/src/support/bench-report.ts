import * as os from 'node:os';

/** What the figures were measured on: printed first by every system bench. */
export function printMachine(title: string): void {
  const cpus = os.cpus();
  console.log(`# ${title}`);
  console.log(
    `machine: ${cpus[0]?.model ?? 'unknown cpu'}, ${cpus.length} cores, ${(os.totalmem() / 2 ** 30).toFixed(1)} GiB; Node ${process.version}; ${new Date().toISOString()}`,
  );
}

/** Nearest-rank percentile (p in 0..100): with 50 samples p99 is the largest one. */
export function percentile(samples: readonly number[], p: number): number {
  if (samples.length === 0) return Number.NaN;
  const sorted = [...samples].sort((a, b) => a - b);
  const rank = Math.max(1, Math.ceil((p / 100) * sorted.length));
  return sorted[rank - 1] as number;
}

export function summary(label: string, samples: readonly number[], unit = 'ms'): string {
  const f = (x: number): string => (x >= 100 ? x.toFixed(0) : x.toFixed(1));
  return `${label}: n=${samples.length} p50 ${f(percentile(samples, 50))} ${unit}, p99 ${f(percentile(samples, 99))} ${unit}, max ${f(Math.max(...samples))} ${unit}, min ${f(Math.min(...samples))} ${unit}`;
}

/** Wall-clock milliseconds with sub-millisecond resolution, comparable with the stream's timestamps (same host). */
export function wallMs(): number {
  return performance.timeOrigin + performance.now();
}
