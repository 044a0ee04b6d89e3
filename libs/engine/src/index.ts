// Public surface of @runforge/engine: the deterministic backtest core (no I/O, no clock, no
// ambient randomness). Hosts import from here only, never from deep paths.
export { type Timeframe, TIMEFRAMES, timeframeMs, barsPerYear, isTimeframe, timeframeFromMs, MS_PER_YEAR } from './timeframe';
export { type Bars, type BarColumns, barsFromColumns, sliceBars } from './bars';
export { type SyntheticSpec, generateSyntheticBars } from './synthetic';
export {
  type CsvParseResult,
  type CsvError,
  type CsvRecord,
  CSV_MAX_ERRORS,
  parseOhlcvCsv,
  parseTimestamp,
  readCsvRecords,
} from './csv';
export { barsChecksum, fnv1a64 } from './checksum';
export type { ParamValue, Params, ParamSpec, StrategyInfo } from './strategies/strategy';
export { listStrategies, getStrategyInfo, strategyNames } from './strategies/registry';
export { type ResolveParamsResult, resolveParams, assertStrategyParams, assertEnoughBars } from './params';
export {
  type FieldIssue,
  type EngineErrorCode,
  ENGINE_ERROR_CODES,
  EngineError,
  StrategyParamError,
  BacktestAbortedError,
} from './errors';
export { type BacktestMetrics, PROFIT_FACTOR_CAP } from './metrics';
export {
  type BacktestConfig,
  type BacktestResult,
  type BacktestHooks,
  type EquityPoint,
  type Trade,
  EQUITY_CURVE_MAX_POINTS,
  Backtest,
  runBacktest,
  validateBacktestConfig,
} from './backtest';
export {
  type Axis,
  type GridPlan,
  ConstraintSyntaxError,
  MAX_RAW_GRID,
  parseConstraint,
  planGrid,
  forEachCombination,
  countCombinations,
  enumerateGrid,
} from './grid';
