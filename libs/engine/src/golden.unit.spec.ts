import * as fs from 'node:fs';
import * as path from 'node:path';
import { barsFromRows, closeTo, diffWithTolerance, type Row } from '../test/helpers';
import { runBacktest, type BacktestConfig, type Timeframe } from './index';

/**
 * Golden tests: small canonical bar series (test/golden/<case>.input.json) → trades, metrics and
 * the equity curve (test/golden/<case>.expected.json). A missing expected file FAILS; to
 * (re)write them run `UPDATE_GOLDEN=1 npx jest --selectProjects unit libs/engine/src/golden` and
 * review the diff before committing.
 */
const GOLDEN_DIR = path.join(__dirname, '..', 'test', 'golden');
const UPDATE = process.env['UPDATE_GOLDEN'] === '1';

interface GoldenInput {
  description: string;
  timeframe: Timeframe;
  config: BacktestConfig;
  bars: Row[];
}

function load(name: string): GoldenInput {
  return JSON.parse(fs.readFileSync(path.join(GOLDEN_DIR, `${name}.input.json`), 'utf8')) as GoldenInput;
}

function run(input: GoldenInput): ReturnType<typeof runBacktest> {
  return runBacktest(barsFromRows(input.timeframe, input.bars), { ...input.config, recordTrades: true });
}

const cases = fs
  .readdirSync(GOLDEN_DIR)
  .filter((f) => f.endsWith('.input.json'))
  .map((f) => f.slice(0, -'.input.json'.length))
  .sort();

describe('golden backtests', () => {
  it('has golden cases', () => {
    expect(cases.length).toBeGreaterThanOrEqual(6);
  });

  it.each(cases)('%s matches its expected file', (name) => {
    const input = load(name);
    const result = run(input);
    const expectedPath = path.join(GOLDEN_DIR, `${name}.expected.json`);
    const actual = { description: input.description, trades: result.trades, metrics: result.metrics, equityCurve: result.equityCurve, bars: result.bars };
    if (UPDATE) {
      fs.writeFileSync(expectedPath, `${JSON.stringify(actual, null, 2)}\n`);
      return;
    }
    if (!fs.existsSync(expectedPath)) {
      throw new Error(`missing golden file ${expectedPath}; generate it with UPDATE_GOLDEN=1 and review it`);
    }
    const expected: unknown = JSON.parse(fs.readFileSync(expectedPath, 'utf8'));
    expect(diffWithTolerance(actual, expected)).toEqual([]);
  });
});

describe('golden sma-single-trade, checked by hand', () => {
  // Given 8 bars, fast 1 / slow 2: long while close > previous close.
  //   closes 10 10 10 11 12 11 11 11, opens 10 10 10 10.5 11.5 11.8 11.9 11
  //   bar 3 close 11 > 10 → decide long → fill at bar 4 open 11.5
  //   bar 5 close 11 < 12 → decide flat → fill at bar 6 open 11.9
  // 10 bps commission per side, notional = equity / (1 + 0.001) so notional + fee = equity.
  const input = load('sma-single-trade');
  const result = run(input);
  const c = 0.001;
  const notional = 10_000 / (1 + c);
  const units = notional / 11.5;
  const entryFee = notional * c;
  const proceeds = units * 11.9;
  const exitFee = proceeds * c;
  const cashInTrade = 10_000 - notional - entryFee; // ≈ 0 up to rounding
  const cashAfter = cashInTrade + proceeds - exitFee;

  it('enters at the next open after the signal bar and exits at the next open after the exit signal', () => {
    expect(result.trades).toHaveLength(1);
    const t = result.trades?.[0];
    expect(t).toMatchObject({ side: 'long', entryBar: 4, entryPrice: 11.5, exitBar: 6, exitPrice: 11.9, open: false });
  });

  it('books pnl, commission and return from first principles', () => {
    const t = result.trades?.[0];
    if (t === undefined) throw new Error('no trade');
    expect(closeTo(t.units, units)).toBe(true);
    expect(closeTo(t.notional, notional)).toBe(true);
    expect(closeTo(t.commission, entryFee + exitFee)).toBe(true);
    // ≈ 10000 × (11.9 / 11.5) × 0.999 / 1.001 − 10000 ≈ +327.15
    expect(closeTo(t.pnl, cashAfter - 10_000)).toBe(true);
    expect(t.pnl).toBeCloseTo(327.15, 2);
    expect(closeTo(t.return, (cashAfter - 10_000) / notional)).toBe(true);
  });

  it('marks equity to each close', () => {
    const eq = result.equityCurve.map((p) => p.equity);
    expect(eq.slice(0, 4)).toEqual([10_000, 10_000, 10_000, 10_000]);
    expect(closeTo(eq[4] as number, cashInTrade + units * 12)).toBe(true);
    expect(closeTo(eq[5] as number, cashInTrade + units * 11)).toBe(true);
    expect(closeTo(eq[6] as number, cashAfter)).toBe(true);
    expect(closeTo(eq[7] as number, cashAfter)).toBe(true);
  });

  it('derives the metrics', () => {
    const m = result.metrics;
    expect(m.tradeCount).toBe(1);
    expect(m.winRate).toBe(1);
    expect(m.profitFactor).toBe(1000); // no losing trade: capped
    expect(closeTo(m.totalReturn, cashAfter / 10_000 - 1)).toBe(true);
    expect(m.exposure).toBe(2 / 8); // in the market through the closes of bars 4 and 5
    // Peak is bar 4's close (12); bar 5 closes at 11: drawdown 1/12 of the position's value.
    const peak = cashInTrade + units * 12;
    expect(closeTo(m.maxDrawdown, (peak - (cashInTrade + units * 11)) / peak)).toBe(true);
    expect(m.maxDrawdownDurationBars).toBe(3); // bars 5, 6, 7 stay below the bar-4 peak
  });
});
