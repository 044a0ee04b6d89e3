import { readFileSync } from 'node:fs';
import type { Schedule, ScheduleDetails } from '@runforge/client';
import { EXIT, type Context } from '../context';
import { FlagError, literal } from '../request';
import { count, instant, keyValues, table } from '../render/text';
import { readJsonFile } from './runs';

export async function listSchedules(ctx: Context): Promise<number> {
  const { items } = await ctx.client.schedules.list();
  if (ctx.json) {
    ctx.emit({ items });
    return EXIT.ok;
  }
  if (items.length === 0) {
    ctx.out('no schedules');
    return EXIT.ok;
  }
  ctx.out(
    table(
      [{ header: 'ID' }, { header: 'NAME', flex: true }, { header: 'CRON', flex: true }, { header: 'NEXT (UTC)' }],
      items.map((s) => [
        s.id,
        s.paused ? `${s.name} (paused)` : s.name,
        `${s.cron} ${s.timezone}`,
        instant(s.nextFireTimes[0]).slice(5, 16),
      ]),
    ),
  );
  return EXIT.ok;
}

export interface CreateScheduleOptions {
  file?: string;
  name?: string;
  cron?: string;
  timezone?: string;
  overlap?: string;
  maxPerDay?: string;
  catchup?: string;
  /** The run template: a JSON file, or inline JSON. */
  template?: string;
}

/** The schedule the flags describe, on top of a `--file`'s definition. */
export function scheduleFromFlags(opts: CreateScheduleOptions): Record<string, unknown> {
  const def = opts.file ? readJsonFile('--file', opts.file) : {};
  if (opts.name) def.name = opts.name;
  if (opts.cron) def.cron = opts.cron;
  if (opts.timezone) def.timezone = opts.timezone;
  if (opts.overlap) def.overlapPolicy = opts.overlap;
  if (opts.maxPerDay !== undefined) def.maxRunsPerWindow = { count: literal(opts.maxPerDay), window: '1d' };
  if (opts.catchup !== undefined) def.catchupWindowSeconds = literal(opts.catchup);
  if (opts.template !== undefined) {
    const inline = opts.template.trim().startsWith('{');
    let text = opts.template;
    if (!inline) {
      try {
        text = readFileSync(opts.template, 'utf8');
      } catch (err) {
        throw new FlagError('--template', `cannot read ${opts.template}: ${(err as Error).message}`);
      }
    }
    const template = literal(text);
    if (template === null || typeof template !== 'object') throw new FlagError('--template', 'must be a JSON object');
    def.template = template;
  }
  return def;
}

function scheduleSummary(s: Schedule | ScheduleDetails): string {
  const pairs: [string, string][] = [
    ['Id', s.id],
    ['Name', s.name],
    ['Cron', `${s.cron} (${s.timezone})`],
    ['State', s.paused ? 'paused' : 'active'],
    ['Overlap', s.overlapPolicy],
  ];
  if (s.maxRunsPerWindow) pairs.push(['Limit', `${count(s.maxRunsPerWindow.count)} per ${s.maxRunsPerWindow.window}`]);
  pairs.push(['Next fires', s.nextFireTimes.slice(0, 3).map(instant).join(', ') || '–']);
  return keyValues(pairs);
}

export async function createSchedule(ctx: Context, opts: CreateScheduleOptions): Promise<number> {
  const created = await ctx.client.schedules.create(scheduleFromFlags(opts));
  if (ctx.json) ctx.emit(created);
  else ctx.out(scheduleSummary(created));
  return EXIT.ok;
}

export async function changeSchedule(ctx: Context, change: 'pause' | 'resume', id: string): Promise<number> {
  const changed = await ctx.client.schedules[change](id);
  if (ctx.json) ctx.emit(changed);
  else ctx.out(scheduleSummary(changed));
  return EXIT.ok;
}

export async function triggerSchedule(ctx: Context, id: string): Promise<number> {
  const triggered = await ctx.client.schedules.trigger(id);
  if (ctx.json) ctx.emit(triggered);
  else {
    ctx.out(triggered.id);
    if (triggered.cancelled.length > 0) ctx.note(`cancelled the previous run(s): ${triggered.cancelled.join(', ')}`);
  }
  return EXIT.ok;
}
