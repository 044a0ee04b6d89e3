/**
 * The Energy page's model, pure: the API's energy shapes as the page reads them, the market day a
 * DMO's once-a-day rule counts in, and the fold of what the page learns about a data source's jobs
 * (lists, live snapshots, details) into one map of runs.
 */
import type { EnergyKind, EnergyResultAnswer, EnergyScheduleRow } from '@runforge/contracts';
import { TERMINAL, type Run } from './api';

export const ENERGY_KINDS = ['dmo', 'rmo', 'so'] as const satisfies readonly EnergyKind[];
export type { EnergyKind };

/** The day-ahead market's zone: a DMO runs at most once per calendar day there, per data source. */
export const MARKET_TIME_ZONE = 'Europe/Amsterdam';

export interface EnergyAsset {
  capacityMWh: number;
  powerMW: number;
  chargeEfficiency: number;
  dischargeEfficiency: number;
  socMinMWh: number;
  socMaxMWh: number;
  initialSocMWh: number;
  finalSocMinMWh?: number;
  degradationCostPerMWh?: number;
}

/** `GET /api/energy/sources` items. */
export interface EnergySource {
  id: string;
  name: string;
  origin: 'synthetic' | 'csv';
  intervalMinutes: number;
  from: string;
  to: string;
  intervals: number;
  hasIntraday: boolean;
  asset: EnergyAsset;
  createdAt: string;
}

/** An energy run's `result`, as the worker records it. */
export type EnergyResult = EnergyResultAnswer;
export type ScheduleRow = EnergyScheduleRow;

export function energyResultOf(run: Pick<Run, 'result'> | undefined): EnergyResult | undefined {
  const r = run?.result;
  return r && typeof r.model === 'string' && Array.isArray(r.schedule) ? (r as unknown as EnergyResult) : undefined;
}

export const fmtEuro = (n: number): string =>
  `${n.toLocaleString('en-US', { minimumFractionDigits: 2, maximumFractionDigits: 2 })} €`;

/** What a toast says when a job ends: "DMO completed — objective 1,822.62 €", or the failure's reason. */
export function endText(run: Pick<Run, 'kind' | 'status' | 'errorMessage' | 'result'>): string {
  const name = run.kind.toUpperCase();
  const objective = energyResultOf(run)?.objective_value;
  switch (run.status) {
    case 'Completed':
      return typeof objective === 'number'
        ? `${name} completed — objective ${fmtEuro(objective)}`
        : `${name} completed`;
    case 'Failed':
      return `${name} failed — ${run.errorMessage ?? 'no reason recorded'}`;
    case 'Cancelled':
      return `${name} cancelled`;
    case 'Pending':
    case 'Running':
      return `${name} ${run.status.toLowerCase()}`;
    default: {
      const never: never = run.status;
      return String(never);
    }
  }
}

/** yyyymmdd of the calendar day `ms` falls on in `timeZone`. */
function dayKey(ms: number, f: Intl.DateTimeFormat): number {
  let key = 0;
  for (const p of f.formatToParts(ms)) {
    if (p.type === 'year') key += Number(p.value) * 10_000;
    else if (p.type === 'month') key += Number(p.value) * 100;
    else if (p.type === 'day') key += Number(p.value);
  }
  return key;
}

/** The first instant in [lo, hi] whose day key is at least `key` (hi when none before it). */
function firstInstantOf(key: number, lo: number, hi: number, f: Intl.DateTimeFormat): number {
  while (hi - lo > 1) {
    const mid = Math.floor((lo + hi) / 2);
    if (dayKey(mid, f) >= key) hi = mid;
    else lo = mid;
  }
  return hi;
}

const HOUR = 3_600_000;

/**
 * The calendar day in `timeZone` that contains `t`, `[start, end)` — 23 or 25 hours across a DST
 * change. The rule @runforge/calendar gives the server's run windows; redone here because the
 * dashboard imports only types from our libs.
 */
export function calendarDay(t: Date, timeZone: string): { start: Date; end: Date } {
  const f = new Intl.DateTimeFormat('en-US', { timeZone, year: 'numeric', month: 'numeric', day: 'numeric' });
  const ms = t.getTime();
  const today = dayKey(ms, f);
  // Local days are 23–25 h long and offsets within ±14 h: both boundaries lie within 30 h of t.
  const start = firstInstantOf(today, ms - 30 * HOUR, ms, f);
  const end = firstInstantOf(today + 1, ms, ms + 30 * HOUR, f);
  return { start: new Date(start), end: new Date(end) };
}

/** Why DMO may not run now, and from when it may. */
export interface DmoBlock {
  /** The DMO of this market day that holds the slot (unknown when only a 409 said so). */
  run?: Pick<Run, 'id' | 'status' | 'requestedAt'>;
  /** The server's words, when it refused a submission. */
  message?: string;
  nextAllowedAt: string;
}

/**
 * DMO runs once per market day per data source: the newest DMO requested today (whatever its
 * outcome, as the server's claim is kept) blocks it until the next day starts.
 */
export function dmoBlockOf(runs: Iterable<Run>, now: Date): DmoBlock | undefined {
  const { start, end } = calendarDay(now, MARKET_TIME_ZONE);
  let latest: Run | undefined;
  for (const r of runs) {
    const at = Date.parse(r.requestedAt);
    if (r.kind !== 'dmo' || at < start.getTime() || at >= end.getTime()) continue;
    if (!latest || at > Date.parse(latest.requestedAt)) latest = r;
  }
  return latest ? { run: latest, nextAllowedAt: end.toISOString() } : undefined;
}

/** A refusal (409) still in force at `now`. */
export function conflictInForce(conflict: DmoBlock | undefined, now: Date): DmoBlock | undefined {
  return conflict && Date.parse(conflict.nextAllowedAt) > now.getTime() ? conflict : undefined;
}

/** How far a run has got, to keep the freshest of two reads (a list can answer a moment behind a stream). */
function stage(run: Run): number {
  if (TERMINAL.has(run.status)) return 2;
  return run.status === 'Running' ? 1 : 0;
}

/** The fresher of two reads of one run, completed with the fields only the other carries (a result, logs). */
export function fresherRun(known: Run | undefined, seen: Run): Run {
  if (!known) return seen;
  const newer = stage(seen) > stage(known) || (stage(seen) === stage(known) && seen.progress >= known.progress);
  return newer ? { ...known, ...seen } : { ...seen, ...known };
}

/** A data source's jobs the page knows of, by id. */
export type Jobs = Readonly<Record<string, Run>>;

/** The reducer of what the page knows: each read of a run (list, stream, details) folded in. */
export function evolveJobs(jobs: Jobs, seen: readonly Run[]): Jobs {
  const next: Record<string, Run> = { ...jobs };
  for (const run of seen) next[run.id] = fresherRun(next[run.id], run);
  return next;
}

const newestFirst = (a: Run, b: Run): number =>
  Date.parse(b.requestedAt) - Date.parse(a.requestedAt) || (a.id < b.id ? 1 : -1);

/** The newest `n` jobs. */
export function recentJobs(jobs: Jobs, n = 5): Run[] {
  return Object.values(jobs).sort(newestFirst).slice(0, n);
}

/** Jobs that have not ended, newest first. */
export function activeJobs(jobs: Jobs): Run[] {
  return Object.values(jobs)
    .filter((r) => !TERMINAL.has(r.status))
    .sort(newestFirst);
}

/** Jobs seen before as not ended that have now ended: the ones to announce. */
export function justEnded(before: ReadonlyMap<string, string>, jobs: Jobs): Run[] {
  return Object.values(jobs).filter((r) => {
    const was = before.get(r.id);
    return was !== undefined && !TERMINAL.has(was) && TERMINAL.has(r.status);
  });
}

/** `POST /api/runs` answer for an energy kind (202). */
export interface EnergyRunAccepted {
  id: string;
  kind: EnergyKind;
  status: 'Pending';
  horizonStart: string;
  intervals: number;
}

/** A job as known from its submission alone, until the first read of it arrives. */
export function acceptedRun(a: EnergyRunAccepted, requestedAt: string): Run {
  return {
    id: a.id,
    kind: a.kind,
    status: 'Pending',
    strategy: a.kind,
    totalBars: 0,
    processedBars: 0,
    totalCombinations: null,
    completedCombinations: 0,
    failedCombinations: 0,
    progress: 0,
    durationMs: null,
    attempt: 1,
    errorMessage: null,
    failureReason: null,
    requestedAt,
    startedAt: null,
    completedAt: null,
    traceId: null,
    scheduleId: null,
    triggeredBy: 'api',
    principal: null,
  };
}

/** A 409's body as a DMO block: `{message, nextAllowedAt, runs}`; undefined when it is not one. */
export function conflictOf(message: string, body: unknown): DmoBlock | undefined {
  if (!body || typeof body !== 'object') return undefined;
  const next = (body as { nextAllowedAt?: unknown }).nextAllowedAt;
  return typeof next === 'string' && !Number.isNaN(Date.parse(next)) ? { message, nextAllowedAt: next } : undefined;
}

/** A field of the new-source form: its path in `POST /api/energy/sources` (what a 400 names), and its default. */
export interface SourceField {
  path: string;
  label: string;
  initial: string;
  /** Left out of the request when empty. */
  optional?: boolean;
  choices?: readonly string[];
  text?: boolean;
}

/** A 10 MWh / 5 MW battery over 30 days of quarter-hour prices: enough for DMO, RMO and SO to have work. */
export const SOURCE_FIELDS: readonly SourceField[] = [
  { path: 'name', label: 'Name', initial: 'Battery 10 MWh', text: true },
  { path: 'synthetic.seed', label: 'Seed', initial: '42' },
  { path: 'synthetic.days', label: 'Days', initial: '30' },
  { path: 'synthetic.intervalMinutes', label: 'Interval (min)', initial: '15', choices: ['15', '30', '60'] },
  { path: 'asset.capacityMWh', label: 'Capacity (MWh)', initial: '10' },
  { path: 'asset.powerMW', label: 'Power (MW)', initial: '5' },
  { path: 'asset.chargeEfficiency', label: 'Charge efficiency', initial: '0.95' },
  { path: 'asset.dischargeEfficiency', label: 'Discharge efficiency', initial: '0.95' },
  { path: 'asset.socMinMWh', label: 'SoC min (MWh)', initial: '1' },
  { path: 'asset.socMaxMWh', label: 'SoC max (MWh)', initial: '9' },
  { path: 'asset.initialSocMWh', label: 'Initial SoC (MWh)', initial: '5' },
  { path: 'asset.finalSocMinMWh', label: 'Final SoC min (MWh)', initial: '', optional: true },
  { path: 'asset.degradationCostPerMWh', label: 'Degradation (€/MWh)', initial: '', optional: true },
];

/**
 * The request the form's values make: numbers where a number was typed, the text as typed
 * otherwise (the API then says which field is not a number), optional fields left out when empty.
 */
export function sourceRequest(values: Readonly<Record<string, string>>): Record<string, unknown> {
  const body: Record<string, unknown> = {};
  for (const f of SOURCE_FIELDS) {
    const raw = (values[f.path] ?? f.initial).trim();
    if (f.optional && raw === '') continue;
    const value = f.text || raw === '' || !Number.isFinite(Number(raw)) ? raw : Number(raw);
    const [head, ...rest] = f.path.split('.');
    if (head === undefined) continue;
    if (rest.length === 0) body[head] = value;
    else {
      const group = (body[head] ??= {}) as Record<string, unknown>;
      group[rest.join('.')] = value;
    }
  }
  return body;
}
