// Public surface of @runforge/energy: the three energy models (DMO, RMO, SO) as pure functions
// over validated input, solved with HiGHS (WebAssembly); price series from CSV or a seeded generator.
export {
  type Asset,
  type AssetInput,
  type IntegerMode,
  type IntervalMinutes,
  type ModelConfig,
  type ModelConfigInput,
  type Parsed,
  type PriceSeries,
  AssetSchema,
  INTEGER_MODES,
  INTERVAL_MINUTES,
  MAX_INTERVALS,
  ModelConfigSchema,
  PriceSeriesSchema,
  parseAsset,
  parseModelConfig,
  parsePriceSeries,
} from './schemas';
export { type EnergyErrorCode, ENERGY_ERROR_CODES, EnergyInputError } from './errors';
export { type EnergyResult, type EnergySummary, type ScheduleRow, type SetpointResult } from './result';
export {
  type LpSolution,
  type LpSolveOptions,
  type LpSolver,
  type SolveStatus,
  SOLVE_STATUSES,
  highsSolver,
} from './highs-solver';
export { writeStorageLp, type StorageProblem } from './storage-lp';
export { type StorageInput, DEFAULT_TIME_LIMIT_SECONDS, solveStorage } from './storage';
export { type DmoInput, solveDmo } from './dmo';
export { type RmoInput, solveRmo } from './rmo';
export { type SoInput, DEFAULT_SO_HORIZON_HOURS, solveSo } from './so';
export { coverage, describeMissing } from './horizon';
export { type PriceCsvResult, PRICE_CSV_MAX_ERRORS, formatCsvError, parsePriceCsv } from './price-csv';
export { type SyntheticPriceSpec, SyntheticPriceSpecSchema, syntheticPrices } from './synthetic-prices';
