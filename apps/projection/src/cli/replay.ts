import { toAuditEvent } from '@runforge/messaging';
import { formatTimeline } from './timeline';
import { openCli, runCli } from './cli-context';

/**
 * `npm run replay -- <runId> [--json]`: a run's whole history from the stream as a readable
 * timeline (or the JSON of `GET /api/runs/{id}/events`). Exit code 1 when the run is unknown.
 */
runCli(async () => {
  const args = process.argv.slice(2);
  const runId = args.find((a) => !a.startsWith('--'));
  if (!runId) {
    console.error('usage: npm run replay -- <runId> [--json]');
    return 2;
  }
  const ctx = await openCli('replay');
  try {
    if (!(await ctx.reader.lastOfType(runId, 'RunRequested'))) {
      console.error(`no run with id "${runId}" in ${ctx.cfg.topology.streams.runs.name}`);
      return 1;
    }
    const history = await ctx.reader.history(runId);
    if (args.includes('--json')) {
      const events = history.map(toAuditEvent);
      console.log(JSON.stringify({ runId, events }, null, 2));
    } else {
      console.log(formatTimeline(runId, history));
    }
    return 0;
  } finally {
    await ctx.close();
  }
});
