import type { Bars } from './bars';
import { BacktestAbortedError, EngineError, ENGINE_ERROR_CODES, type FieldIssue } from './errors';
import { computeMetrics, type BacktestMetrics } from './metrics';
import { assertEnoughBars, resolveAndAssertParams } from './params';
import { getStrategyDefinition } from './strategies/registry';
import type { Params, StrategyKernel } from './strategies/strategy';
import { barsPerYear, isTimeframe, MS_PER_YEAR } from './timeframe';

export interface BacktestConfig {
  strategy: string;
  params: Params;
  /** Default 10 000. */
  initialCapital?: number;
  /** Per side, on the traded notional; default 1. */
  commissionBps?: number;
  /** Applied adversely to the fill price (buys higher, sells lower); default 0. */
  slippageBps?: number;
  /** Fraction of equity committed per position, 0 < f <= 1; default 1. */
  positionFraction?: number;
  /** Default false (long-only): short signals then mean flat. */
  allowShort?: boolean;
  /** Also return the list of trades (allocates one object per trade; off by default). */
  recordTrades?: boolean;
}

export interface Trade {
  side: 'long' | 'short';
  entryBar: number;
  entryTime: number;
  /** Fill price including slippage. */
  entryPrice: number;
  exitBar: number;
  exitTime: number;
  /** Fill price including slippage; the last close (no costs) for a trade still open at the end. */
  exitPrice: number;
  /** Signed: > 0 long, < 0 short. */
  units: number;
  /** Notional committed at entry (units × entry price, before commission). */
  notional: number;
  /** Commission paid on entry and exit. */
  commission: number;
  /** Equity change from just before entry to just after exit, net of all costs. */
  pnl: number;
  /** pnl / notional. */
  return: number;
  /** True when the position was still open after the last bar (marked to the last close). */
  open: boolean;
}

export interface EquityPoint {
  t: number;
  equity: number;
}

export interface BacktestResult {
  metrics: BacktestMetrics;
  /** Equity marked at bar closes, downsampled to <= 1000 points; always the first and last bar. */
  equityCurve: EquityPoint[];
  /** Bars processed. */
  bars: number;
  /** Present only with `recordTrades: true`. */
  trades?: Trade[];
}

export interface BacktestHooks {
  /** Checked every `checkEvery` bars; an aborted signal throws BacktestAbortedError. */
  signal?: AbortSignal;
  /** Called every `checkEvery` bars and once at the end, with strictly increasing counts. */
  onProgress?: (processedBars: number, totalBars: number) => void;
  /** Default 4096. */
  checkEvery?: number;
}

export const EQUITY_CURVE_MAX_POINTS = 1000;
/** Bars per kernel call; the change buffer for a chunk is reused and stays in cache. */
const SIGNAL_CHUNK = 4096;
const DEFAULT_CHECK_EVERY = 4096;
/** Relative slack (far above rounding error) for the drawdown alarm level in the hot loop. */
const DD_ALARM_MARGIN = 1 + 1e-9;

interface ResolvedConfig {
  initialCapital: number;
  commission: number;
  slippage: number;
  positionFraction: number;
  allowShort: boolean;
  recordTrades: boolean;
}

/** Validation of the numeric/boolean knobs (not the strategy params), for a host's 400 answer. */
export function validateBacktestConfig(config: Omit<BacktestConfig, 'strategy' | 'params'>): FieldIssue[] {
  const issues: FieldIssue[] = [];
  const check = (field: string, v: unknown, ok: (n: number) => boolean, reason: string): void => {
    if (v !== undefined && !(typeof v === 'number' && Number.isFinite(v) && ok(v))) issues.push({ field, reason });
  };
  check('initialCapital', config.initialCapital, (n) => n > 0, 'must be a number > 0');
  check('commissionBps', config.commissionBps, (n) => n >= 0 && n < 10_000, 'must be a number >= 0 and < 10000');
  check('slippageBps', config.slippageBps, (n) => n >= 0 && n < 10_000, 'must be a number >= 0 and < 10000');
  check('positionFraction', config.positionFraction, (n) => n > 0 && n <= 1, 'must be a number > 0 and <= 1');
  if (config.allowShort !== undefined && typeof config.allowShort !== 'boolean') issues.push({ field: 'allowShort', reason: 'must be a boolean' });
  return issues;
}

function resolveConfig(config: BacktestConfig): ResolvedConfig {
  const issues = validateBacktestConfig(config);
  if (issues.length > 0) {
    throw new EngineError(ENGINE_ERROR_CODES.CONFIG_INVALID, issues.map((i) => `${i.field} ${i.reason}`).join('; '));
  }
  return {
    initialCapital: config.initialCapital ?? 10_000,
    commission: (config.commissionBps ?? 1) / 10_000,
    slippage: (config.slippageBps ?? 0) / 10_000,
    positionFraction: config.positionFraction ?? 1,
    allowShort: config.allowShort ?? false,
    recordTrades: config.recordTrades ?? false,
  };
}

/**
 * One backtest, steppable. Execution model (docs/engine.md):
 * - the strategy decides on bar i's close; the decision fills at bar i + 1's open, so a decision on
 *   the last bar never fills;
 * - a fill closes the current position (if any) and opens the new one with
 *   notional = positionFraction × equity / (1 + commission), so commission never makes cash negative;
 * - equity is marked to each close; returns, drawdown, exposure and trade statistics are
 *   folded into running sums as bars are processed, so metrics need no per-bar arrays.
 *
 * Per chunk of SIGNAL_CHUNK bars: the strategy kernel writes its decisions, then `execute` walks
 * runs of constant position (see `markRun`). State lives in fields between calls and in locals
 * inside the loops; the per-bar work allocates nothing.
 */
export class Backtest {
  readonly totalBars: number;
  private processed = 0;

  private readonly bars: Bars;
  private readonly kernel: StrategyKernel;
  private readonly cfg: ResolvedConfig;
  /** Decision changes of the current chunk: pairs (bar, decision), see StrategyKernel. */
  private readonly changes = new Int32Array(2 * SIGNAL_CHUNK);
  /** Keeps the cache-warming reads in `execute` observable so the JIT cannot drop them. */
  private prefetchSink = 0;

  // Account.
  private cash: number;
  private units = 0;
  private pos = 0;
  /** Decision taken on the previous bar's close, to fill at the current bar's open. */
  private pending = 0;
  private prevEquity: number;

  // Streaming metrics.
  private peak: number;
  private peakBar = 0;
  private maxDrawdown = 0;
  private maxDrawdownDuration = 0;
  private sumReturn = 0;
  private sumReturnSq = 0;
  private sumDownsideSq = 0;
  private barsInMarket = 0;

  // Current trade and closed-trade statistics.
  private entryEquity = 0;
  private entryNotional = 0;
  private entryBar = 0;
  private entryPrice = 0;
  private entryCommission = 0;
  /** Cash leaving (long) or net of proceeds (short) at the last entry. */
  private entryCash = 0;
  /** positionFraction / (1 + commission), see `enter`. */
  private readonly sizing: number;
  private tradeCount = 0;
  private wins = 0;
  private grossProfit = 0;
  private grossLoss = 0;
  private sumTradeReturn = 0;
  private readonly trades: Trade[] | undefined;

  // Equity-curve sampling: sample k is bar floor(k (n - 1) / (points - 1)).
  private readonly samplePoints: number;
  private readonly sampleT: Float64Array;
  private readonly sampleE: Float64Array;
  private sampleCount = 0;
  private nextSample = 0;

  private cachedResult: BacktestResult | undefined;

  constructor(bars: Bars, config: BacktestConfig) {
    const params = resolveAndAssertParams(config.strategy, config.params);
    const def = getStrategyDefinition(config.strategy);
    if (def === undefined) throw new EngineError(ENGINE_ERROR_CODES.STRATEGY_PARAMS_INVALID, `unknown strategy "${config.strategy}"`);
    if (bars.length < 1) throw new EngineError(ENGINE_ERROR_CODES.NO_BARS, 'a backtest needs at least one bar');
    assertEnoughBars(config.strategy, params, bars.length);
    if (!isTimeframe(bars.timeframe)) throw new EngineError(ENGINE_ERROR_CODES.CONFIG_INVALID, `bars.timeframe "${String(bars.timeframe)}" is not a known timeframe`);
    this.cfg = resolveConfig(config);
    this.sizing = this.cfg.positionFraction / (1 + this.cfg.commission);
    this.bars = bars;
    this.totalBars = bars.length;
    this.kernel = def.createKernel(params, bars);
    this.cash = this.cfg.initialCapital;
    this.prevEquity = this.cfg.initialCapital;
    this.peak = this.cfg.initialCapital;
    this.trades = this.cfg.recordTrades ? [] : undefined;
    this.samplePoints = Math.min(bars.length, EQUITY_CURVE_MAX_POINTS);
    this.sampleT = new Float64Array(this.samplePoints);
    this.sampleE = new Float64Array(this.samplePoints);
  }

  get processedBars(): number {
    return this.processed;
  }

  get done(): boolean {
    return this.processed >= this.totalBars;
  }

  /** Processes up to `maxBars` more bars; returns the total processed so far. */
  step(maxBars: number): number {
    if (!Number.isSafeInteger(maxBars) || maxBars < 1) {
      throw new EngineError(ENGINE_ERROR_CODES.CONFIG_INVALID, `step(maxBars) needs a positive integer, got ${maxBars}`);
    }
    const end = Math.min(this.totalBars, this.processed + maxBars);
    while (this.processed < end) {
      const from = this.processed;
      const to = Math.min(end, from + SIGNAL_CHUNK);
      const n = this.kernel.run(from, to, this.changes);
      this.execute(from, to, n);
      this.processed = to;
    }
    return this.processed;
  }

  /** The result; only once `done`. Throws EngineError INVALID_NUMBERS instead of returning NaN/Infinity. */
  result(): BacktestResult {
    if (!this.done) {
      throw new EngineError(ENGINE_ERROR_CODES.NOT_DONE, `result() before the end: ${this.processed} of ${this.totalBars} bars processed`);
    }
    this.cachedResult ??= this.buildResult();
    return this.cachedResult;
  }

  /**
   * Executes bars [from, to) given the `n` ints of decision changes the kernel wrote to `changes`.
   * The bars between two fills form a run with a constant position, which is cheap: a run in the
   * market is one tight mark-to-market loop (`markRun`), a flat run is one bar of that loop plus
   * an O(1) tail, since flat equity is constant (returns exactly 0, drawdown unchanged).
   */
  private execute(from: number, to: number, n: number): void {
    const changes = this.changes;
    const open = this.bars.open;
    const last = this.totalBars - 1;
    // Load every open a fill will need before any fill happens: these reads are independent, so
    // their cache misses overlap, instead of stalling one by one inside the fill logic (sparse
    // reads of a column that is otherwise never touched miss to DRAM each time).
    let touch = 0;
    for (let k = 0; k < n; k += 2) {
      const bar = (changes[k] as number) + 1;
      if (bar <= last) touch += open[bar] as number;
    }
    this.prefetchSink = touch;

    const minPos = this.cfg.allowShort ? -1 : 0;
    let k = 0;
    let i = from;
    while (i < to) {
      if (this.pending !== this.pos) this.fill(i, this.pending);
      // The run lasts up to and including the next bar whose close changes the decision.
      const change = k < n ? (changes[k] as number) : to;
      const runEnd = change < to ? change + 1 : to;
      const pos = this.pos;
      let end: number;
      if (pos > 0) end = this.markRun(i, runEnd);
      else if (pos < 0) end = this.markShortRun(i, runEnd);
      else {
        end = this.markRun(i, i + 1);
        if (runEnd > end) {
          this.markFlatTail(end, runEnd);
          end = runEnd;
        }
      }
      if (end === change + 1) {
        // Long-only: a short decision means flat.
        const d = changes[k + 1] as number;
        this.pending = d < minPos ? minPos : d;
        k += 2;
      }
      i = end;
    }
  }

  /** Fills the decision `target` at bar i's open: closes the current side, then opens the new one. */
  private fill(i: number, target: number): void {
    const o = this.bars.open[i] as number;
    if (this.pos !== 0) {
      this.cash = this.exit(i, o, this.cash, this.units);
      this.units = 0;
      this.pos = 0;
    }
    // Flat now, so cash is the whole equity; a ruined account (<= 0) cannot open anything.
    if (target !== 0 && this.cash > 0) {
      this.units = this.enter(i, o, this.cash, target);
      this.cash -= this.entryCash;
      this.pos = target;
    }
  }

  /**
   * A short run can ruin the account (equity <= 0 when the price rises far enough). Finding the
   * first such bar with a separate scan keeps that check out of the hot loop; the scan uses the
   * same expression as markRun, so the decision is bit-identical. On ruin the position is
   * liquidated at that close and no further entries are possible (cash <= 0).
   */
  private markShortRun(from: number, to: number): number {
    const close = this.bars.close;
    const cash = this.cash;
    const units = this.units;
    let ruin = from;
    while (ruin < to && cash + units * (close[ruin] as number) > 0) ruin++;
    if (ruin === to) return this.markRun(from, to);
    this.markRun(from, ruin + 1);
    const equity = this.prevEquity;
    this.bookTrade(ruin, close[ruin] as number, units, equity - this.entryEquity, this.entryCommission, false);
    this.cash = equity;
    this.units = 0;
    this.pos = 0;
    return ruin + 1;
  }

  /**
   * Marks bars [from, to) to their close with the current position and folds them into the
   * metrics: returns, downside, drawdown, exposure, equity-curve samples. Returns `to`.
   * This is the hot loop: its state is in locals, it allocates nothing, and it is split at
   * equity-curve sample bars so the inner loop carries no sampling check.
   */
  private markRun(from: number, to: number): number {
    const close = this.bars.close;
    const cash = this.cash;
    const units = this.units;
    let prevEquity = this.prevEquity;
    let peak = this.peak;
    let peakBar = this.peakBar;
    let maxDrawdown = this.maxDrawdown;
    let maxDrawdownDuration = this.maxDrawdownDuration;
    let ddAlarm = peak * (1 - maxDrawdown) * DD_ALARM_MARGIN;
    let sumReturn = this.sumReturn;
    let sumReturnSq = this.sumReturnSq;
    let sumDownsideSq = this.sumDownsideSq;
    let i = from;
    while (i < to) {
      const nextSample = this.nextSample;
      // Segment ends after the next sample bar (if it falls inside the run).
      const stop = nextSample >= i && nextSample < to ? nextSample + 1 : to;
      for (; i < stop; i++) {
        const equity = cash + units * (close[i] as number);
        // Bar 0 has no position, so its return is exactly 0 and adds nothing to the sums.
        const r = prevEquity > 0 ? equity / prevEquity - 1 : 0;
        sumReturn += r;
        sumReturnSq += r * r;
        // min(r, 0) without a branch: the sign of a return is a coin flip the CPU cannot predict.
        const down = (r - Math.abs(r)) * 0.5;
        sumDownsideSq += down * down;
        if (equity >= peak) {
          peak = equity;
          peakBar = i;
          ddAlarm = peak * (1 - maxDrawdown) * DD_ALARM_MARGIN;
        } else {
          // The exact drawdown (a division) only when equity nears the worst seen so far; the
          // alarm level sits a hair above it so no candidate is ever skipped.
          if (equity <= ddAlarm) {
            const dd = (peak - equity) / peak;
            if (dd > maxDrawdown) {
              maxDrawdown = dd;
              ddAlarm = peak * (1 - maxDrawdown) * DD_ALARM_MARGIN;
            }
          }
          if (i - peakBar > maxDrawdownDuration) maxDrawdownDuration = i - peakBar;
        }
        prevEquity = equity;
      }
      if (i - 1 === nextSample) this.nextSample = this.sample(nextSample, prevEquity);
    }
    if (units !== 0) this.barsInMarket += to - from;
    this.prevEquity = prevEquity;
    this.peak = peak;
    this.peakBar = peakBar;
    this.maxDrawdown = maxDrawdown;
    this.maxDrawdownDuration = maxDrawdownDuration;
    this.sumReturn = sumReturn;
    this.sumReturnSq = sumReturnSq;
    this.sumDownsideSq = sumDownsideSq;
    return to;
  }

  /**
   * Flat bars [from, to) right after a bar processed by markRun: equity equals the previous bar's,
   * so each return is exactly 0 (adds nothing to the sums), the drawdown cannot deepen and only
   * the peak bar or the drawdown duration moves. Same result as the per-bar loop, in O(1).
   */
  private markFlatTail(from: number, to: number): void {
    const equity = this.prevEquity;
    const last = to - 1;
    if (equity >= this.peak) this.peakBar = last;
    else if (last - this.peakBar > this.maxDrawdownDuration) this.maxDrawdownDuration = last - this.peakBar;
    while (this.nextSample >= from && this.nextSample < to) this.nextSample = this.sample(this.nextSample, equity);
  }

  /** Records equity-curve sample k at bar i; returns the bar of the next sample (-1: none left). */
  private sample(i: number, equity: number): number {
    const k = this.sampleCount++;
    this.sampleT[k] = this.bars.time[i] as number;
    this.sampleE[k] = equity;
    return k + 1 < this.samplePoints ? Math.floor(((k + 1) * (this.totalBars - 1)) / (this.samplePoints - 1)) : -1;
  }

  /** Opens `side` at bar i's open `o` with flat equity `cash`; returns signed units, sets entryCash. */
  private enter(i: number, o: number, cash: number, side: number): number {
    const cfg = this.cfg;
    const px = side > 0 ? o * (1 + cfg.slippage) : o * (1 - cfg.slippage);
    // notional = f × equity / (1 + commission): notional + its commission = f × equity, so an
    // all-in entry leaves cash at 0 instead of slightly negative.
    const notional = cash * this.sizing;
    const fee = notional * cfg.commission;
    this.entryEquity = cash;
    this.entryNotional = notional;
    this.entryCommission = fee;
    this.entryBar = i;
    this.entryPrice = px;
    // Cash leaves the account on a buy and arrives on a short sale; the fee is paid either way.
    this.entryCash = side * notional + fee;
    return (side * notional) / px;
  }

  /** Closes `units` at bar i's open `o`; returns the cash after the exit (= equity, flat). */
  private exit(i: number, o: number, cash: number, units: number): number {
    const cfg = this.cfg;
    const px = units > 0 ? o * (1 - cfg.slippage) : o * (1 + cfg.slippage);
    const fee = Math.abs(units) * px * cfg.commission;
    const after = cash + units * px - fee;
    // Round trip: equity change from just before entry to just after exit.
    this.bookTrade(i, px, units, after - this.entryEquity, this.entryCommission + fee, false);
    return after;
  }

  private bookTrade(exitBar: number, exitPrice: number, units: number, pnl: number, commission: number, open: boolean): void {
    this.tradeCount++;
    if (pnl > 0) {
      this.wins++;
      this.grossProfit += pnl;
    } else this.grossLoss -= pnl;
    this.sumTradeReturn += pnl / this.entryNotional;
    if (this.trades !== undefined) this.recordTrade(exitBar, exitPrice, units, pnl, commission, open);
  }

  /** Appends a round trip to the optional trade list (only with `recordTrades`). */
  private recordTrade(exitBar: number, exitPrice: number, units: number, pnl: number, commission: number, open: boolean): void {
    const time = this.bars.time;
    (this.trades as Trade[]).push({
      side: units > 0 ? 'long' : 'short',
      entryBar: this.entryBar,
      entryTime: time[this.entryBar] as number,
      entryPrice: this.entryPrice,
      exitBar,
      exitTime: time[exitBar] as number,
      exitPrice,
      units,
      notional: this.entryNotional,
      commission,
      pnl,
      return: pnl / this.entryNotional,
      open,
    });
  }

  private buildResult(): BacktestResult {
    const n = this.totalBars;
    const finalEquity = this.prevEquity;
    if (this.pos !== 0) {
      // Still in the market: count the position as a trade marked to the last close (no exit
      // costs, like the equity), so trade PnLs add up to finalEquity - initialCapital.
      this.bookTrade(n - 1, this.bars.close[n - 1] as number, this.units, finalEquity - this.entryEquity, this.entryCommission, true);
      this.pos = 0;
    }
    const time = this.bars.time;
    const metrics = computeMetrics({
      bars: n,
      initialCapital: this.cfg.initialCapital,
      finalEquity,
      elapsedMs: (time[n - 1] as number) - (time[0] as number),
      msPerYear: MS_PER_YEAR,
      barsPerYear: barsPerYear(this.bars.timeframe),
      sumReturn: this.sumReturn,
      sumReturnSq: this.sumReturnSq,
      sumDownsideSq: this.sumDownsideSq,
      maxDrawdown: this.maxDrawdown,
      maxDrawdownDurationBars: this.maxDrawdownDuration,
      barsInMarket: this.barsInMarket,
      tradeCount: this.tradeCount,
      wins: this.wins,
      grossProfit: this.grossProfit,
      grossLoss: this.grossLoss,
      sumTradeReturn: this.sumTradeReturn,
    });
    const equityCurve: EquityPoint[] = new Array<EquityPoint>(this.sampleCount);
    for (let k = 0; k < this.sampleCount; k++) {
      const equity = this.sampleE[k] as number;
      if (!Number.isFinite(equity)) {
        throw new EngineError(ENGINE_ERROR_CODES.INVALID_NUMBERS, `equity at sample ${k} is ${equity}; the bars or the strategy produced invalid numbers`);
      }
      equityCurve[k] = { t: this.sampleT[k] as number, equity };
    }
    const result: BacktestResult = { metrics, equityCurve, bars: n };
    if (this.trades !== undefined) result.trades = this.trades;
    return result;
  }
}

/**
 * Runs a whole backtest synchronously, checking `signal` and reporting progress every
 * `checkEvery` bars. Hosts that must keep their event loop responsive use `Backtest.step`.
 */
export function runBacktest(bars: Bars, config: BacktestConfig, hooks?: BacktestHooks): BacktestResult {
  const checkEvery = hooks?.checkEvery ?? DEFAULT_CHECK_EVERY;
  if (!Number.isSafeInteger(checkEvery) || checkEvery < 1) {
    throw new EngineError(ENGINE_ERROR_CODES.CONFIG_INVALID, `checkEvery must be a positive integer, got ${checkEvery}`);
  }
  const bt = new Backtest(bars, config);
  const signal = hooks?.signal;
  const onProgress = hooks?.onProgress;
  while (!bt.done) {
    if (signal?.aborted === true) throw new BacktestAbortedError(bt.processedBars, { cause: signal.reason });
    const processed = bt.step(checkEvery);
    onProgress?.(processed, bt.totalBars);
  }
  return bt.result();
}
