/**
 * The one table of how a metric is shown — its label and its unit — read by the CLI and the
 * dashboard alike. A metric missing here is shown by its name, split into words.
 */

/** How a value is written: `fraction` is stored as 0.123 and shown as 12.3 %. */
export type MetricUnit = 'fraction' | 'ratio' | 'money' | 'eur' | 'bars' | 'count' | 'ms' | 'mwh' | 'cycles';

export interface MetricLabel {
  readonly label: string;
  readonly unit: MetricUnit;
  /** Is a higher value better? (Absent: neither, e.g. a count.) */
  readonly higherIsBetter?: boolean;
}

export const METRIC_LABELS: Readonly<Record<string, MetricLabel>> = {
  // Backtests (libs/engine, docs/engine.md#metrics)
  totalReturn: { label: 'Total return', unit: 'fraction', higherIsBetter: true },
  cagr: { label: 'CAGR', unit: 'fraction', higherIsBetter: true },
  annualizedVolatility: { label: 'Volatility (annualized)', unit: 'fraction', higherIsBetter: false },
  sharpe: { label: 'Sharpe ratio', unit: 'ratio', higherIsBetter: true },
  sortino: { label: 'Sortino ratio', unit: 'ratio', higherIsBetter: true },
  maxDrawdown: { label: 'Max drawdown', unit: 'fraction', higherIsBetter: false },
  maxDrawdownDurationBars: { label: 'Longest drawdown', unit: 'bars', higherIsBetter: false },
  tradeCount: { label: 'Trades', unit: 'count' },
  winRate: { label: 'Win rate', unit: 'fraction', higherIsBetter: true },
  profitFactor: { label: 'Profit factor', unit: 'ratio', higherIsBetter: true },
  averageTradeReturn: { label: 'Avg trade return', unit: 'fraction', higherIsBetter: true },
  exposure: { label: 'Exposure', unit: 'fraction' },
  finalEquity: { label: 'Final equity', unit: 'money', higherIsBetter: true },
  // Energy models (libs/energy): the seed's names, and the plan's summary
  objective_value: { label: 'Objective', unit: 'eur', higherIsBetter: true },
  solver_time_ms: { label: 'Solver time', unit: 'ms' },
  results_count: { label: 'Intervals', unit: 'count' },
  mip_gap: { label: 'MIP gap', unit: 'fraction' },
  energyInMWh: { label: 'Energy charged', unit: 'mwh' },
  energyOutMWh: { label: 'Energy discharged', unit: 'mwh' },
  cycles: { label: 'Full cycles', unit: 'cycles' },
  revenue: { label: 'Revenue', unit: 'eur', higherIsBetter: true },
  degradationCost: { label: 'Degradation cost', unit: 'eur', higherIsBetter: false },
  tradingFees: { label: 'Trading fees', unit: 'eur', higherIsBetter: false },
};

/** The metric's label: from the table, else its name in words (`maxFooBar` → "Max foo bar"). */
export function metricLabel(name: string): string {
  const known = METRIC_LABELS[name];
  if (known) return known.label;
  const words = name
    .replace(/_/g, ' ')
    .replace(/([a-z0-9])([A-Z])/g, '$1 $2')
    .toLowerCase()
    .trim();
  return words.charAt(0).toUpperCase() + words.slice(1);
}

const grouped = (n: number, digits: number): string =>
  n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: 0 });

/** A metric's value with its unit: `0.1234` totalReturn → "12.34 %", 812 bars → "812 bars". */
export function formatMetric(name: string, value: unknown): string {
  if (typeof value === 'string') return value;
  if (typeof value !== 'number') return value === null || value === undefined ? '–' : JSON.stringify(value);
  if (!Number.isFinite(value)) return String(value);
  const unit = METRIC_LABELS[name]?.unit;
  switch (unit) {
    case 'fraction':
      return `${grouped(value * 100, 2)} %`;
    case 'ratio':
      return grouped(value, 3);
    case 'money':
      return grouped(value, 2);
    case 'eur':
      return `${grouped(value, 2)} €`;
    case 'bars':
      return `${grouped(value, 0)} bars`;
    case 'count':
      return grouped(value, 0);
    case 'ms':
      return `${grouped(value, 0)} ms`;
    case 'mwh':
      return `${grouped(value, 3)} MWh`;
    case 'cycles':
      return grouped(value, 2);
    case undefined:
      return grouped(value, 4);
    default: {
      const never: never = unit;
      return String(never);
    }
  }
}

/** A duration in milliseconds: "812 ms", "4.2 s", "3 min 20 s", "2 h 5 min" ("–" when unknown). */
export function formatDuration(ms: number | null | undefined): string {
  if (ms === null || ms === undefined || !Number.isFinite(ms) || ms < 0) return '–';
  if (ms < 1000) return `${Math.round(ms)} ms`;
  const s = ms / 1000;
  if (s < 60) return `${s.toFixed(1)} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m} min ${Math.round(s % 60)} s`;
  return `${Math.floor(m / 60)} h ${m % 60} min`;
}
