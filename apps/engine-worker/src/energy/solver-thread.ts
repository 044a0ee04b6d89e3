import { Injectable, Logger, type OnApplicationBootstrap, type OnApplicationShutdown } from '@nestjs/common';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import type { DmoInput, EnergyResult, RmoInput, SetpointResult, SoInput } from '@runforge/energy';

export type SolveRequest =
  | { readonly id: number; readonly kind: 'dmo'; readonly input: DmoInput }
  | { readonly id: number; readonly kind: 'rmo'; readonly input: RmoInput }
  | { readonly id: number; readonly kind: 'so'; readonly input: SoInput };

export type SolveReply =
  | { readonly id: number; readonly ok: true; readonly result: EnergyResult | SetpointResult }
  | {
      readonly id: number;
      readonly ok: false;
      readonly error: { name: string; message: string; code?: string; issues?: unknown };
    };

/** A solve stopped by its signal (cancel, time budget, stall, shutdown): the thread was terminated. */
export class SolveAbortedError extends Error {
  override readonly name = 'SolveAbortedError';
}

/** A solve that failed in the thread, with the error's name, code and issues as they were thrown. */
export class SolveFailedError extends Error {
  constructor(
    message: string,
    override readonly name: string,
    readonly code: string | undefined,
    readonly issues: unknown,
  ) {
    super(message);
  }
}

/**
 * Runs the energy models on a thread of their own (solve.thread.ts), kept for the worker's life and
 * started again after it was stopped. An aborted solve terminates the thread: HiGHS cannot be
 * interrupted from outside, and a terminated thread frees its memory at once.
 */
/** A tiny day (4 hours at two prices) the thread solves once at start, so the first real run is warm. */
const WARM_UP: Omit<SolveRequest, 'id'> = {
  kind: 'dmo',
  input: {
    series: { start: '2026-01-01T00:00:00Z', intervalMinutes: 60, dayAhead: [10, 10, 50, 50] },
    intervals: 4,
    asset: {
      capacityMWh: 1,
      powerMW: 1,
      chargeEfficiency: 1,
      dischargeEfficiency: 1,
      socMinMWh: 0,
      socMaxMWh: 1,
      initialSocMWh: 0,
    },
    config: { integer: 'always' },
  },
};

@Injectable()
export class EnergySolverThread implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly log = new Logger(EnergySolverThread.name);

  /**
   * Starts the thread and solves a tiny model in the background: the first solve in a process
   * compiles HiGHS' WebAssembly (and V8 optimises it over the next few), 1–4 s that would otherwise
   * land on the worker's first energy run (BENCHMARKS.md, "Energy models").
   */
  onApplicationBootstrap(): void {
    const idle = new AbortController();
    this.solve(WARM_UP, idle.signal).then(
      () => undefined,
      (err: unknown) => this.log.warn({ err }, 'energy solver warm-up failed (the first energy run will load it)'),
    );
  }

  private worker?: Worker;
  private nextId = 1;
  private readonly pending = new Map<number, { resolve: (r: SolveReply) => void; reject: (e: Error) => void }>();

  private thread(): Worker {
    if (this.worker) return this.worker;
    const worker = new Worker(join(__dirname, 'solve.thread.js'));
    worker.on('message', (reply: SolveReply) => {
      const p = this.pending.get(reply.id);
      this.pending.delete(reply.id);
      p?.resolve(reply);
    });
    const fail = (err: Error): void => {
      if (this.worker === worker) this.worker = undefined;
      for (const p of this.pending.values()) p.reject(err);
      this.pending.clear();
    };
    worker.on('error', fail);
    worker.on('exit', (code) => fail(new SolveAbortedError(`the solver thread exited (${code})`)));
    // The worker process may exit while the thread is idle.
    worker.unref();
    this.worker = worker;
    return worker;
  }

  async solve(request: Omit<SolveRequest, 'id'>, signal: AbortSignal): Promise<EnergyResult | SetpointResult> {
    if (signal.aborted) throw new SolveAbortedError('aborted before the solve started');
    const worker = this.thread();
    const id = this.nextId++;
    const onAbort = (): void => {
      void worker.terminate();
    };
    signal.addEventListener('abort', onAbort, { once: true });
    try {
      worker.ref();
      const reply = await new Promise<SolveReply>((resolve, reject) => {
        this.pending.set(id, { resolve, reject });
        worker.postMessage({ ...request, id });
      });
      if (reply.ok) return reply.result;
      throw new SolveFailedError(reply.error.message, reply.error.name, reply.error.code, reply.error.issues);
    } finally {
      signal.removeEventListener('abort', onAbort);
      worker.unref();
    }
  }

  async onApplicationShutdown(): Promise<void> {
    await this.worker?.terminate();
    this.worker = undefined;
  }
}
