import { readLimitsFromEnv } from '@runforge/messaging';
import { verifyReadModels } from '../rebuild/verify';
import { openCli, runCli } from './cli-context';

/**
 * `npm run verify`: folds the stream again up to the live checkpoint and compares every run row,
 * trial tally and log tally. Exit code 0 when equal, 1 with the differences listed otherwise.
 */
runCli(async () => {
  const ctx = await openCli('verify');
  try {
    const report = await verifyReadModels(ctx.cfg, ctx.nc, { limits: readLimitsFromEnv(process.env) });
    console.log(`verified ${report.runs} runs from ${report.events} events up to checkpoint ${report.checkpoint}`);
    if (report.differences.length === 0) {
      console.log('read models equal the replayed stream');
      return 0;
    }
    console.log(`${report.differences.length} difference(s):`);
    for (const d of report.differences.slice(0, 200)) {
      console.log(`  ${d.runId} ${d.field}: live=${JSON.stringify(d.live)} replayed=${JSON.stringify(d.replayed)}`);
    }
    return 1;
  } finally {
    await ctx.close();
  }
});
