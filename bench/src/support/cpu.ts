import { readdirSync, readFileSync } from 'node:fs';

/** Clock ticks per second of /proc/<pid>/stat's utime and stime (USER_HZ; 100 on Linux). */
const TICKS_PER_SECOND = 100;

/** CPU seconds (user + system) a process has used so far, or undefined once it is gone. */
export function cpuSecondsOf(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command name (which may hold spaces) start after the last ')'.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / TICKS_PER_SECOND;
  } catch {
    return undefined;
  }
}

/**
 * Read and write system calls a process has made so far (/proc/<pid>/io `syscr` + `syscw`), or
 * undefined when unreadable. Each message or request over loopback is at least one write and one
 * read on each side: a count that machine noise does not change, unlike CPU time.
 */
export function syscallsOf(pid: number | 'self'): number | undefined {
  try {
    const io = readFileSync(`/proc/${pid}/io`, 'utf8');
    const count = (name: string): number => Number(new RegExp(`^${name}: (\\d+)$`, 'm').exec(io)?.[1] ?? NaN);
    const n = count('syscr') + count('syscw');
    return Number.isFinite(n) ? n : undefined;
  } catch {
    return undefined;
  }
}

/** Pids whose executable path (cmdline's first word) ends with `name`, e.g. `nats-server`, `postgres`. */
export function pidsNamed(name: string): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      // Its first word (redis-server rewrites its title into one space-separated string).
      const exe = (readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0')[0] ?? '').split(' ')[0] ?? '';
      if (exe.endsWith(`/${name}`) || exe === name || exe.startsWith(`${name}:`)) pids.push(Number(entry));
    } catch {
      // gone meanwhile
    }
  }
  return pids;
}

/**
 * CPU seconds per labelled group of processes between `start()` and `stop()`. A process that exits in
 * between loses what it used (short-lived Postgres backends), so figures are lower bounds.
 */
export class CpuMeter {
  private readonly before = new Map<number, number>();
  private readonly callsBefore = new Map<number, number>();
  /** System calls per group between `start()` and the last `stop()` (see `syscallsOf`). */
  syscalls: Record<string, number> = {};

  constructor(private readonly groups: Record<string, () => number[]>) {}

  start(): void {
    for (const pids of Object.values(this.groups))
      for (const pid of pids()) {
        this.before.set(pid, cpuSecondsOf(pid) ?? 0);
        this.callsBefore.set(pid, syscallsOf(pid) ?? 0);
      }
  }

  stop(): Record<string, number> {
    const used: Record<string, number> = {};
    this.syscalls = {};
    for (const [label, pids] of Object.entries(this.groups)) {
      const now = pids();
      used[label] = now.reduce((sum, pid) => sum + ((cpuSecondsOf(pid) ?? 0) - (this.before.get(pid) ?? 0)), 0);
      this.syscalls[label] = now.reduce(
        (sum, pid) => sum + ((syscallsOf(pid) ?? 0) - (this.callsBefore.get(pid) ?? 0)),
        0,
      );
    }
    return used;
  }
}

/** What `systemCpuMeter` needs of a test system: its service processes. */
interface ServiceProcesses {
  readonly processes: readonly { readonly name: string; readonly child: { readonly pid?: number } }[];
}

/**
 * A meter over a test system's services (engine workers, projection, gateway — by name, so processes
 * respawned meanwhile count) and the machine's nats-server and Postgres processes.
 */
export function systemCpuMeter(sys: ServiceProcesses): CpuMeter {
  const pidsOf = (name: string) => (): number[] =>
    sys.processes.filter((p) => p.name === name).map((p) => p.child.pid ?? -1);
  return new CpuMeter({
    'engine-worker': pidsOf('engine-worker'),
    projection: pidsOf('projection'),
    gateway: pidsOf('gateway'),
    'nats-server': () => pidsNamed('nats-server'),
    postgres: () => pidsNamed('postgres'),
  });
}
