/** How long engine work keeps the worker's thread before it returns to the event loop. */
export const SLICE_MS = 20;

/** Lets timers, I/O callbacks and promise continuations queued meanwhile run, then resumes. */
export const yieldToEventLoop = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/**
 * Cooperative time slicing for CPU-bound work on the worker's one thread: the work runs until its
 * slice is used up, then yields once so heartbeats, stop signals and publish acks are handled. A
 * stop is heard within about SLICE_MS. Yielding by time rather than after every fixed chunk of bars
 * keeps short trials from paying an event-loop hop (and its async-context bookkeeping) several
 * times each.
 */
export class TimeSlice {
  private deadlineAt: number;

  constructor(
    private readonly ms = SLICE_MS,
    private readonly now: () => number = () => performance.now(),
  ) {
    this.deadlineAt = now() + ms;
  }

  /** When the current slice ends, in `performance.now()` milliseconds. */
  get deadline(): number {
    return this.deadlineAt;
  }

  get due(): boolean {
    return this.now() >= this.deadlineAt;
  }

  /** Yields to the event loop and starts a new slice. */
  async yield(): Promise<void> {
    await yieldToEventLoop();
    this.deadlineAt = this.now() + this.ms;
  }

  async yieldIfDue(): Promise<void> {
    if (this.due) await this.yield();
  }
}
