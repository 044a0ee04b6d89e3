import { readFileSync } from 'node:fs';
import { EXIT, type Context } from '../context';
import { FlagError } from '../request';
import { count, instant, keyValues, table } from '../render/text';

export interface UploadFlags {
  symbol: string;
  timeframe?: string;
  name?: string;
}

export async function uploadDataset(ctx: Context, file: string, opts: UploadFlags): Promise<number> {
  let csv: string;
  try {
    csv = readFileSync(file === '-' ? 0 : file, 'utf8');
  } catch (err) {
    throw new FlagError('<file>', `cannot read ${file}: ${(err as Error).message}`);
  }
  const dataset = await ctx.client.datasets.upload(csv, opts);
  if (ctx.json) ctx.emit(dataset);
  else
    ctx.out(
      keyValues([
        ['Id', dataset.id],
        ['Symbol', `${dataset.symbol}${dataset.name ? ` (${dataset.name})` : ''}`],
        ['Bars', `${count(dataset.bars)} of ${dataset.timeframe}`],
        ['From', instant(dataset.firstTime)],
        ['To', instant(dataset.lastTime)],
      ]),
    );
  return EXIT.ok;
}

export async function listDatasets(ctx: Context): Promise<number> {
  const { items } = await ctx.client.datasets.list();
  if (ctx.json) {
    ctx.emit({ items });
    return EXIT.ok;
  }
  if (items.length === 0) {
    ctx.out('no datasets (runforge datasets upload <file.csv> --symbol <SYMBOL>)');
    return EXIT.ok;
  }
  ctx.out(
    table(
      [
        { header: 'ID' },
        { header: 'SYMBOL', flex: true },
        { header: 'TF' },
        { header: 'BARS', align: 'right' },
        { header: 'FROM (UTC)' },
      ],
      items.map((d) => [d.id, d.symbol, d.timeframe, count(d.bars), instant(d.firstTime).slice(0, 10)]),
    ),
  );
  return EXIT.ok;
}
