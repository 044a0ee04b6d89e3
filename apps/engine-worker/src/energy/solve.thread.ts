import { parentPort } from 'node:worker_threads';
import { solveDmo, solveRmo, solveSo } from '@runforge/energy';
import type { SolveReply, SolveRequest } from './solver-thread';

/**
 * The energy solver's own thread: HiGHS runs synchronously (WebAssembly), and a solve of minutes on
 * the worker's event loop would stop its heartbeats and lose its lease. Loaded once per worker, so
 * the WebAssembly module is compiled once.
 */
parentPort?.on('message', (req: SolveRequest) => {
  const solving =
    req.kind === 'dmo' ? solveDmo(req.input) : req.kind === 'rmo' ? solveRmo(req.input) : solveSo(req.input);
  solving.then(
    (result) => parentPort?.postMessage({ id: req.id, ok: true, result } satisfies SolveReply),
    (err: unknown) => {
      const e = err instanceof Error ? err : new Error(String(err));
      const { code, issues } = e as { code?: unknown; issues?: unknown };
      parentPort?.postMessage({
        id: req.id,
        ok: false,
        error: { name: e.name, message: e.message, code: typeof code === 'string' ? code : undefined, issues },
      } satisfies SolveReply);
    },
  );
});
