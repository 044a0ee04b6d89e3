import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import { ROOT } from '../support/system';

jest.setTimeout(600_000);

/**
 * The short chaos soak (`npm run chaos -- --short`, bench/src/chaos.ts) inside the test suite:
 * 40 runs under every kind of infrastructure fault, against private servers it starts itself.
 * The soak asserts its invariants and exits non-zero on any problem; this only runs it.
 */
describe('chaos soak, short', () => {
  it('every accepted run ends once, trials count once, verify equal, no acknowledged submission lost', async () => {
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
    // Every fault type was injected at least once.
    const injected: Record<string, number> = Object.fromEntries(
      [...result.out.matchAll(/^\| ([\w +]+) \| (\d+) \|$/gm)].map((m) => [m[1], Number(m[2])]),
    );
    expect(injected).toEqual({
      'worker SIGKILL': expect.any(Number),
      'worker SIGSTOP': expect.any(Number),
      'projection SIGKILL': expect.any(Number),
      'gateway SIGKILL': expect.any(Number),
      'NATS kill+restart': expect.any(Number),
      'Postgres restart': expect.any(Number),
    });
    expect(Math.min(...Object.values(injected))).toBeGreaterThanOrEqual(1);
    expect(result.out).toMatch(/\| 20 \/ 20 \| [\d.]+ s \| [\d.]+ s \| equal \|/);
  });
});
