/**
 * Fault injection for the lifecycle tests, off unless set (never in production configs):
 * - RUNFORGE_TEST_CHUNK_DELAY_MS: sleep after each engine chunk, so a run lasts long enough to be
 *   cancelled or killed mid-way deterministically;
 * - RUNFORGE_TEST_CRASH_ON_SEED: a run over a synthetic dataset with this seed kills its worker
 *   (SIGKILL) right after it starts — a poison run;
 * - RUNFORGE_TEST_STALL_ON_SEED: a run over a synthetic dataset with this seed stops making
 *   progress after it starts (the worker keeps heart-beating) until it is aborted;
 * - RUNFORGE_TEST_DEAF_TO_CANCEL_PUSH=1: the worker never hears the core-NATS push of a
 *   cancellation (as when it is lost in a reconnect), only what is stored on the stream;
 * - RUNFORGE_TEST_DEAF_TO_STOP_PUSH=1: the worker never hears the core-NATS stops of runs and
 *   attempts (`ctl.runs.<id>.abort`, as when they are lost while it is cut off), only the stream;
 * - RUNFORGE_TEST_DEAF_TO_BATCH_SUMMARIES=1: a coordinator on this worker never hears the trial
 *   batches' summaries (`ctl.runs.<id>.trials_settled`, as when they are lost), only the stream.
 */
export const testFaults = {
  chunkDelayMs: Number(process.env.RUNFORGE_TEST_CHUNK_DELAY_MS ?? 0),
  crashOnSeed:
    process.env.RUNFORGE_TEST_CRASH_ON_SEED === undefined ? undefined : Number(process.env.RUNFORGE_TEST_CRASH_ON_SEED),
  stallOnSeed:
    process.env.RUNFORGE_TEST_STALL_ON_SEED === undefined ? undefined : Number(process.env.RUNFORGE_TEST_STALL_ON_SEED),
  deafToCancelPush: process.env.RUNFORGE_TEST_DEAF_TO_CANCEL_PUSH === '1',
  deafToStopPush: process.env.RUNFORGE_TEST_DEAF_TO_STOP_PUSH === '1',
  deafToBatchSummaries: process.env.RUNFORGE_TEST_DEAF_TO_BATCH_SUMMARIES === '1',
};

export function crashIfPoisoned(seed: number | undefined): void {
  if (testFaults.crashOnSeed !== undefined && seed === testFaults.crashOnSeed) process.kill(process.pid, 'SIGKILL');
}

export async function testChunkDelay(): Promise<void> {
  if (testFaults.chunkDelayMs > 0) await new Promise((r) => setTimeout(r, testFaults.chunkDelayMs));
}

/** Resolves only when the run is aborted (a hung dependency, as the stall clock sees it). */
export async function stallIfPoisoned(seed: number | undefined, signal: AbortSignal): Promise<void> {
  if (testFaults.stallOnSeed === undefined || seed !== testFaults.stallOnSeed) return;
  await new Promise<void>((resolve) => {
    if (signal.aborted) resolve();
    else signal.addEventListener('abort', () => resolve(), { once: true });
  });
}
