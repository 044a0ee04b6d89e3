import { Command, CommanderError, Option } from 'commander';
import { RunForgeError } from '@runforge/client';
import { contextOf, DEFAULT_URL, EXIT, type Context, type GlobalOptions } from './context';
import { FlagError } from './request';
import { truncate } from './render/text';
import { cancel, events, list, logs, retry, show, submit, trials } from './commands/runs';
import { changeSchedule, createSchedule, listSchedules, triggerSchedule } from './commands/schedules';
import { listDatasets, uploadDataset } from './commands/datasets';
import { watchRun } from './commands/watch';

const collect = (value: string, previous: string[] = []): string[] => [...previous, value];

/** A refusal as people read it: the message, then each field's reason. */
export function describeError(err: unknown): { text: string; code: number } {
  if (err instanceof RunForgeError) {
    const lines = [`error: ${err.explanation}`];
    for (const issue of err.issues) lines.push(`  ${issue.field}: ${issue.reason}`);
    const body = err.body as { nextAllowedAt?: unknown } | undefined;
    if (typeof body?.nextAllowedAt === 'string') lines.push(`  next allowed at ${body.nextAllowedAt}`);
    const badInput = err.status >= 400 && err.status < 500;
    return { text: lines.join('\n'), code: badInput ? EXIT.badInput : EXIT.failed };
  }
  if (err instanceof FlagError) return { text: `error: ${err.message}`, code: EXIT.badInput };
  return { text: `error: ${err instanceof Error ? err.message : String(err)}`, code: EXIT.failed };
}

/** The `runforge` program; each action answers its exit code. */
export function program(done: (code: number) => void): Command {
  const root = new Command('runforge')
    .description('RunForge from the command line: submit and follow runs, read their logs, trials and history')
    .addOption(new Option('--url <url>', `the gateway (env RUNFORGE_URL, default ${DEFAULT_URL})`))
    .addOption(new Option('--api-key <key>', 'credential, sent as a bearer token (env RUNFORGE_API_KEY)'))
    .option('--json', 'machine-readable output (JSON; one JSON line per update when following)')
    .showHelpAfterError('(runforge --help for usage)')
    .configureHelp({ helpWidth: 80 })
    .exitOverride();

  /** Runs a command's action with its context, turning its answer or its error into the exit code. */
  const act =
    <A extends unknown[]>(fn: (ctx: Context, ...args: A) => Promise<number>) =>
    async (...args: unknown[]): Promise<void> => {
      const cmd = args[args.length - 1] as Command;
      const ctx = contextOf(cmd.optsWithGlobals<GlobalOptions>());
      try {
        done(await fn(ctx, ...(args.slice(0, -1) as A)));
      } catch (err) {
        const { text, code } = describeError(err);
        if (ctx.json && err instanceof RunForgeError) {
          process.stdout.write(`${JSON.stringify({ error: err.message, status: err.status, issues: err.issues })}\n`);
        }
        ctx.note(text);
        done(code);
      }
    };

  root
    .command('submit')
    .description('submit a run of a kind (backtest, optimization, dmo, a program kind…); prints its id')
    .argument('<kind>', 'the kind of run (runforge kinds lists them)')
    .option('-f, --file <request.json>', 'the request as JSON (- for stdin); flags add to it')
    .option('--strategy <name>', 'strategy (backtest, optimization)')
    .option('-p, --param <name=value>', 'a parameter, repeatable: params.<name>', collect)
    .option('--axis <name=spec>', 'an optimization axis, repeatable: fast=5:50:5 or slow=20,50,100', collect)
    .option('--constraint <expr>', 'an optimization constraint, repeatable: "fast < slow"', collect)
    .option('--objective <metric[:direction]>', 'optimization objective, e.g. sharpe:maximize')
    .option('--bars <n>', 'synthetic dataset: number of bars')
    .option('--seed <n>', 'synthetic dataset: seed (default 1)')
    .option('--timeframe <tf>', 'synthetic dataset: timeframe (default 1h)')
    .option('--dataset <id>', 'an uploaded dataset (with --from/--to)')
    .option('--from <time>', 'uploaded dataset window start')
    .option('--to <time>', 'uploaded dataset window end')
    .option('--priority <high|normal>', 'dispatch priority')
    .option('--set <path=value>', 'any other request field, repeatable: model_config.time_limit=30', collect)
    .option('--idempotency-key <key>', 'the same key returns the same run')
    .option('-w, --watch', 'follow the run to its end (exit code as for watch)')
    .action(act(submit));

  root
    .command('watch')
    .description('follow a run live to its end; exit 0 Completed, 1 Failed, 130 Cancelled')
    .argument('<id>', 'run id')
    .action(act((ctx, id: string) => watchRun(ctx, id)));

  root.command('cancel').description('cancel a Pending or Running run').argument('<id>', 'run id').action(act(cancel));

  root
    .command('retry')
    .description('run a finished run again (a new run); prints the new id')
    .argument('<id>', 'run id')
    .action(act(retry));

  root
    .command('ls')
    .description('list runs, newest first')
    .option('--kind <kind>', 'only these kinds (a,b)')
    .option('--status <status>', 'only these statuses (Running,Failed)')
    .option('--schedule <id>', 'only the runs of a schedule')
    .option('--since <when>', 'requested since: 30m, 2h, 7d, or an ISO time')
    .option('--limit <n>', 'how many (1-500, default 20)')
    .option('--cursor <cursor>', 'the next page, as printed')
    .action(act(list));

  root
    .command('show')
    .description("a run's details, result and latest logs")
    .argument('<id>', 'run id')
    .action(act(show));

  root
    .command('logs')
    .description("a run's log lines")
    .argument('<id>', 'run id')
    .option('--level <level>', 'minimum level: DEBUG, INFO, WARNING, ERROR')
    .option('-f, --follow', 'keep printing new lines until the run ends')
    .action(act(logs));

  root
    .command('trials')
    .description("an optimization's trials")
    .argument('<id>', 'run id')
    .option('--failed', 'only failed trials, with their errors')
    .option('--sort <order>', 'index, -index, score, -score, duration, -duration')
    .option('--limit <n>', 'how many (1-1000, default 20)')
    .action(act(trials));

  root
    .command('events')
    .description("a run's audit timeline: every event of its history")
    .argument('<id>', 'run id')
    .action(act(events));

  const schedules = root.command('schedules').description('cadences that submit runs by themselves');
  schedules.command('ls').description('schedules and their next fire').action(act(listSchedules));
  schedules
    .command('create')
    .description('create a schedule (from --file, flags, or both)')
    .option('-f, --file <schedule.json>', 'the whole definition as JSON')
    .option('--name <name>', 'name')
    .option('--cron <expr>', 'cron expression, e.g. "0 10 * * *"')
    .option('--timezone <tz>', 'IANA time zone, e.g. Europe/Amsterdam')
    .option('--overlap <policy>', 'skip, allow or cancel-previous')
    .option('--max-per-day <n>', 'at most n runs per calendar day')
    .option('--catchup <seconds>', 'catch-up window after downtime')
    .option('--template <file|json>', 'the run template: {"kind": …, …request}')
    .action(act(createSchedule));
  for (const change of ['pause', 'resume'] as const) {
    schedules
      .command(change)
      .description(`${change} a schedule`)
      .argument('<id>', 'schedule id')
      .action(act((ctx, id: string) => changeSchedule(ctx, change, id)));
  }
  schedules
    .command('trigger')
    .description("run a schedule's template now; prints the run id")
    .argument('<id>', 'schedule id')
    .action(act(triggerSchedule));

  const datasets = root.command('datasets').description('uploaded OHLCV datasets');
  datasets
    .command('upload')
    .description('upload a CSV of bars (timestamp,open,high,low,close,volume)')
    .argument('<file>', 'the CSV file (- for stdin)')
    .requiredOption('--symbol <symbol>', 'symbol, e.g. BTCUSD')
    .option('--timeframe <tf>', 'timeframe (guessed from the bars when absent)')
    .option('--name <name>', 'a name')
    .action(act(uploadDataset));
  datasets.command('ls').description('uploaded datasets').action(act(listDatasets));

  root
    .command('kinds')
    .description('the kinds of run the gateway accepts')
    .action(
      act(async (ctx) => {
        const { items } = await ctx.client.kinds();
        if (ctx.json) ctx.emit({ items });
        else for (const k of items) ctx.out(truncate(`${k.name.padEnd(16)} ${k.description}`, 80));
        return EXIT.ok;
      }),
    );

  return root;
}

export async function main(argv: readonly string[]): Promise<number> {
  let code: number = EXIT.ok;
  try {
    await program((c) => (code = c)).parseAsync(argv);
  } catch (err) {
    if (err instanceof CommanderError) {
      // Help and version end with 0; a usage error (unknown option, missing argument) is bad input.
      return err.exitCode === 0 ? EXIT.ok : EXIT.badInput;
    }
    process.stderr.write(`${describeError(err).text}\n`);
    return EXIT.failed;
  }
  return code;
}

/** Runs `runforge` with this process's arguments and sets its exit code. */
export function run(): void {
  void main(process.argv).then((code) => {
    process.exitCode = code;
  });
}

if (require.main === module) run();
