import { readLimitsFromEnv } from '@runforge/messaging';
import { BEHIND_STREAM, verifyReadModels } from '../rebuild/verify';
import { openCli, runCli } from './cli-context';

/** How long verify gives a running projection to catch up with the stream before it compares. */
const CATCH_UP_SECONDS = Number(process.env.VERIFY_CATCH_UP_SECONDS ?? 10);

/**
 * `npm run verify`: folds the whole stream again and compares every run row, trial tally and log
 * tally. Exit code 0 when equal, 1 with the differences listed otherwise — read models behind the
 * stream (checkpoint below its last sequence) included.
 */
runCli(async () => {
  const ctx = await openCli('verify');
  try {
    const report = await verifyReadModels(ctx.cfg, ctx.nc, {
      limits: readLimitsFromEnv(process.env),
      catchUpMs: CATCH_UP_SECONDS * 1000,
    });
    console.log(
      `verified ${report.runs} runs from ${report.events} events up to sequence ` +
        `${Math.max(report.checkpoint, report.streamSeq)} (checkpoint ${report.checkpoint})`,
    );
    if (report.differences.length === 0) {
      console.log('read models equal the replayed stream');
      return 0;
    }
    if (report.checkpoint < report.streamSeq) {
      console.log(
        `read models are behind the stream: checkpoint ${report.checkpoint} < last sequence ${report.streamSeq} ` +
          `(${report.streamSeq - report.checkpoint} event(s) not applied after ${CATCH_UP_SECONDS} s)`,
      );
    }
    console.log(`${report.differences.length} difference(s):`);
    for (const d of report.differences.slice(0, 200)) {
      if (d.runId === BEHIND_STREAM.runId) continue;
      console.log(`  ${d.runId} ${d.field}: live=${JSON.stringify(d.live)} replayed=${JSON.stringify(d.replayed)}`);
    }
    return 1;
  } finally {
    await ctx.close();
  }
});
