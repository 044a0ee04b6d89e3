import { rebuildReadModels } from '../rebuild/rebuild';
import { readLimitsFromEnv } from '@runforge/messaging';
import { openCli, runCli } from './cli-context';

/** `npm run rebuild`: rebuilds every read model from stream sequence 1 and swaps it in (see rebuild.ts). */
runCli(async () => {
  const ctx = await openCli('rebuild');
  try {
    const batchSize = Number(process.env.REBUILD_BATCH_SIZE ?? 2000);
    const stats = await rebuildReadModels(ctx.cfg, ctx, {
      batchSize,
      log: (l) => console.log(l),
      limits: readLimitsFromEnv(process.env),
    });
    const rate = stats.events / Math.max(stats.totalSeconds, 0.001);
    console.log(
      `rebuilt ${stats.runs} runs from ${stats.events} events (skipped ${stats.skipped}) in ${stats.totalSeconds.toFixed(1)} s ` +
        `(${Math.round(rate)} events/s); live projection fenced ${stats.swapMs} ms; checkpoint ${stats.lastSeq}`,
    );
    return 0;
  } finally {
    await ctx.close();
  }
});
