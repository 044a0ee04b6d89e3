import type { Asset } from './schemas';

/** A validated storage problem, ready to be written as an LP. */
export interface StorageProblem {
  /** €/MWh per interval. */
  prices: readonly number[];
  /** Interval length Δ in hours. */
  intervalHours: number;
  asset: Asset;
  /** Intervals per day, for the daily cycle limit. */
  intervalsPerDay: number;
  /** RMO: optimize the deviation from a committed net position (MW, discharge positive) at these prices. */
  deviation?: { committed: readonly number[]; feePerMWh: number };
}

/** Column names, shared by the writer and the reader of a solution. */
export const col = {
  charge: (t: number) => `ch_${t}`,
  discharge: (t: number) => `dis_${t}`,
  soc: (t: number) => `soc_${t}`,
  charging: (t: number) => `on_${t}`,
  sell: (t: number) => `sell_${t}`,
  buy: (t: number) => `buy_${t}`,
} as const;

/** The power the asset can actually exchange: its converter, or a tighter grid connection. */
export function effectivePowerMW(asset: Asset): number {
  return Math.min(asset.powerMW, asset.gridLimitMW ?? Infinity);
}

/** Lower bound of the last interval's state of charge. */
export function finalSocFloor(asset: Asset): number {
  return Math.max(asset.socMinMWh, asset.finalSocMinMWh ?? 0);
}

/** Blocks of whole days from the horizon's start; a shorter last block gets its pro-rata cycle budget. */
function cycleBlocks(intervals: number, intervalsPerDay: number): Array<{ from: number; to: number }> {
  const blocks: Array<{ from: number; to: number }> = [];
  for (let from = 0; from < intervals; from += intervalsPerDay) {
    blocks.push({ from, to: Math.min(intervals, from + intervalsPerDay) });
  }
  return blocks;
}

type Term = readonly [coefficient: number, column: string];

/**
 * Writes the storage model in CPLEX LP format, per interval t (Δ hours, SoC at the end of t):
 *
 *   maximize  Σ (p_t − deg)·Δ·dis_t − p_t·Δ·ch_t                       (storage)
 *             Σ (p_t − fee)·Δ·sell_t − (p_t + fee)·Δ·buy_t − deg·Δ·dis_t (deviation)
 *   bal_t:    soc_t − soc_{t−1} − ηc·Δ·ch_t + Δ/ηd·dis_t = 0   (soc_{−1} = the initial SoC)
 *   cyc_k:    Σ_{t∈day k} dis_t ≤ cycles·E·(share of the day)/Δ
 *   och_t:    ch_t − P·on_t ≤ 0,  odis_t: dis_t + P·on_t ≤ P      (integer only)
 *   net_t:    dis_t − ch_t − sell_t + buy_t = committed_t           (deviation only)
 *   bounds:   0 ≤ ch_t, dis_t ≤ P;  Smin ≤ soc_t ≤ Smax;  soc_{T−1} ≥ S_final
 */
/** `integer` adds the charge-or-discharge binaries. */
export function writeStorageLp(p: StorageProblem, integer: boolean): string {
  const { prices, asset, deviation } = p;
  const dt = p.intervalHours;
  const n = prices.length;
  const power = effectivePowerMW(asset);
  const deg = asset.degradationCostPerMWh;

  const objective: Term[] = [];
  for (let t = 0; t < n; t++) {
    const price = prices[t] as number;
    if (deviation === undefined) {
      objective.push([-price * dt, col.charge(t)], [(price - deg) * dt, col.discharge(t)]);
    } else {
      objective.push(
        [-deg * dt, col.discharge(t)],
        [(price - deviation.feePerMWh) * dt, col.sell(t)],
        [-(price + deviation.feePerMWh) * dt, col.buy(t)],
      );
    }
  }

  const rows: string[] = [];
  const chargeGain = asset.chargeEfficiency * dt;
  const dischargeDrain = dt / asset.dischargeEfficiency;
  for (let t = 0; t < n; t++) {
    const terms: Term[] = [
      [1, col.soc(t)],
      [-chargeGain, col.charge(t)],
      [dischargeDrain, col.discharge(t)],
    ];
    if (t > 0) terms.push([-1, col.soc(t - 1)]);
    rows.push(row(`bal_${t}`, terms, '=', t === 0 ? asset.initialSocMWh : 0));
  }
  if (asset.maxCyclesPerDay !== undefined) {
    const cycles = asset.maxCyclesPerDay;
    cycleBlocks(n, p.intervalsPerDay).forEach(({ from, to }, k) => {
      const terms: Term[] = [];
      for (let t = from; t < to; t++) terms.push([1, col.discharge(t)]);
      const budgetMWh = (cycles * asset.capacityMWh * (to - from)) / p.intervalsPerDay;
      rows.push(row(`cyc_${k}`, terms, '<=', budgetMWh / dt));
    });
  }
  if (integer) {
    for (let t = 0; t < n; t++) {
      rows.push(
        row(
          `och_${t}`,
          [
            [1, col.charge(t)],
            [-power, col.charging(t)],
          ],
          '<=',
          0,
        ),
      );
      rows.push(
        row(
          `odis_${t}`,
          [
            [1, col.discharge(t)],
            [power, col.charging(t)],
          ],
          '<=',
          power,
        ),
      );
    }
  }
  if (deviation !== undefined) {
    for (let t = 0; t < n; t++) {
      const terms: Term[] = [
        [1, col.discharge(t)],
        [-1, col.charge(t)],
        [-1, col.sell(t)],
        [1, col.buy(t)],
      ];
      rows.push(row(`net_${t}`, terms, '=', deviation.committed[t] as number));
    }
  }

  const bounds: string[] = [];
  for (let t = 0; t < n; t++) {
    const socLow = t === n - 1 ? finalSocFloor(asset) : asset.socMinMWh;
    bounds.push(
      ` 0 <= ${col.charge(t)} <= ${num(power)}`,
      ` 0 <= ${col.discharge(t)} <= ${num(power)}`,
      ` ${num(socLow)} <= ${col.soc(t)} <= ${num(asset.socMaxMWh)}`,
    );
    if (deviation !== undefined) bounds.push(` ${col.sell(t)} >= 0`, ` ${col.buy(t)} >= 0`);
  }

  const sections = ['Maximize', ` obj: ${linear(objective)}`, 'Subject To', ...rows, 'Bounds', ...bounds];
  if (integer) {
    const binaries: string[] = [];
    for (let t = 0; t < n; t++) binaries.push(col.charging(t));
    sections.push('Binaries', ...wrap(binaries));
  }
  sections.push('End', '');
  return sections.join('\n');
}

function row(name: string, terms: readonly Term[], sense: '<=' | '=' | '>=', rhs: number): string {
  return ` ${name}: ${linear(terms)} ${sense} ${num(rhs)}`;
}

/** `+ 2 x - 0.5 y …`, zero terms left out, wrapped so no line grows without bound. */
function linear(terms: readonly Term[]): string {
  const parts: string[] = [];
  for (const [coefficient, column] of terms) {
    if (coefficient === 0) continue;
    parts.push(`${coefficient < 0 ? '-' : '+'} ${num(Math.abs(coefficient))} ${column}`);
  }
  return wrap(parts).join('\n').trimStart();
}

const TERMS_PER_LINE = 8;

function wrap(items: readonly string[]): string[] {
  const lines: string[] = [];
  for (let i = 0; i < items.length; i += TERMS_PER_LINE) lines.push(` ${items.slice(i, i + TERMS_PER_LINE).join(' ')}`);
  return lines;
}

/** JavaScript's shortest round-trip form (`1e-7`, `2.5`), which the LP reader accepts; never `-0`. */
function num(x: number): string {
  return x === 0 ? '0' : String(x);
}
