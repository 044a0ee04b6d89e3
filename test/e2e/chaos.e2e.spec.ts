import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import { ROOT } from '../support/system';

jest.setTimeout(900_000);

/** The rows of the soak's markdown tables whose first cell is a phase. */
function rows(out: string, phase: string): string[][] {
  return out
    .split('\n')
    .filter((l) => l.startsWith(`| ${phase} |`))
    .map((l) =>
      l
        .split('|')
        .slice(1, -1)
        .map((c) => c.trim()),
    );
}

/**
 * The short chaos soak (`npm run chaos -- --short`, bench/src/chaos.ts) inside the test suite: every
 * kind (backtest, optimization, the program kind battery-dp, DMO, RMO, SO) under every kind of
 * infrastructure fault against a private single nats-server, then against a private 3-node cluster
 * with R3 streams whose RUNS stream leader is killed. The soak asserts its invariants
 * (one terminal event per accepted run, trials counted once, verify equal, nothing acknowledged
 * lost, the projection caught up within its bound after every fault) and exits non-zero on any
 * problem; this runs it and checks that what it reports covers every fault and every kind.
 */
describe('chaos soak, short', () => {
  it('every accepted run of every kind ends once, trials count once, verify equal, on one node and on a cluster', async () => {
    const result = await promisify(execFile)(
      process.execPath,
      [path.join(ROOT, 'bench/dist/system/bench/src/chaos.js'), '--short'],
      { cwd: ROOT, env: { ...process.env, CHAOS_SEED: '20' }, maxBuffer: 16 * 1024 * 1024 },
    ).then(
      (r) => ({ code: 0, out: r.stdout, err: r.stderr }),
      (e: { code: number; stdout: string; stderr: string }) => ({ code: e.code, out: e.stdout, err: e.stderr }),
    );
    // On failure the diff shows the soak's problems (its stderr).
    expect({ code: result.code, stderr: result.err.slice(-3000) }).toMatchObject({ code: 0 });

    // Every fault type of each phase was injected at least once (fault table: phase, fault, injected, …).
    const injected = (phase: string): Record<string, number> =>
      Object.fromEntries(
        rows(result.out, phase)
          .filter((r) => r.length === 5)
          .map((r): [string, number] => [r[1] ?? '', Number(r[2])]),
      );
    expect(injected('single')).toEqual({
      'worker SIGKILL': 1,
      'worker SIGSTOP': 1,
      'projection SIGKILL': 1,
      'gateway SIGKILL': 1,
      'NATS kill+restart': 1,
      'Postgres restart': 1,
    });
    expect(injected('cluster')).toEqual({ 'NATS RUNS leader kill+restart': 1 });

    // Every kind was submitted and answered in both phases: accepted (202) or refused by its window (409).
    const answered = (phase: string): Record<string, number> =>
      Object.fromEntries(
        rows(result.out, phase)
          .filter((r) => r.length === 9)
          .map((r): [string, number] => [r[1] ?? '', Number(r[2]) + Number(r[3])]),
      );
    const kinds = (n: number) => ({ backtest: n, optimization: n, 'battery-dp': n, dmo: n, rmo: n, so: n });
    expect(answered('single')).toEqual(kinds(5));
    expect(answered('cluster')).toEqual(kinds(2));

    // verify equal over the whole stream, in both phases (summary: phase, max 503 window, start failures, verify).
    const verified = ['single', 'cluster'].map((phase) => rows(result.out, phase).find((r) => r.length === 4)?.[3]);
    expect(verified).toEqual(['equal', 'equal']);
  });
});
