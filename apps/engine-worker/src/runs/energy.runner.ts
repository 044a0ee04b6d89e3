import { localDate } from '@runforge/calendar';
import { MARKET_TIME_ZONE } from '@runforge/submission';
import type { EnergyResultPayload, EnergyRunData } from '@runforge/contracts';
import type { EnergyPositions, EnergySource, EnergySourceStore } from '@runforge/datasets';
import { parseModelConfig, type EnergyResult, type SetpointResult } from '@runforge/energy';
import { EnergySolverThread, SolveAbortedError, type SolveRequest } from '../energy/solver-thread';
import { RunAbortedError } from './backtest.runner';
import type { RunContext } from './run-context';

/** An energy run that cannot succeed as asked (its source is gone, the model is infeasible): Failed, not retried. */
export class EnergyRunError extends Error {
  override readonly name = 'EnergyRunError';
  constructor(
    message: string,
    readonly code: string,
  ) {
    super(message);
  }
}

/** The market day (YYYY-MM-DD) a plan's first interval belongs to: its delivery day. */
const marketDate = (iso: string): string => localDate(new Date(iso), MARKET_TIME_ZONE);

const fmt = (x: number | null, digits = 2): string => (x === null ? '—' : x.toFixed(digits));

export interface EnergyDeps {
  readonly sources: EnergySourceStore;
  readonly positions: EnergyPositions;
  readonly solver: EnergySolverThread;
}

/**
 * Runs one attempt of a DMO, RMO or SO run: loads its data source, builds and solves the model with
 * HiGHS (`@runforge/energy`), and records the result — with progress by phase (data loaded, model
 * built, solved, results stored) and logs at their levels. A completed DMO's plan becomes the
 * committed position that RMO re-plans. Throws EnergyRunError when the run cannot succeed.
 */
export async function runEnergyKind(
  ctx: RunContext,
  data: EnergyRunData,
  deps: EnergyDeps,
  signal: AbortSignal,
  /** Runs before the run's end is recorded (throws when a newer attempt owns the run). */
  beforeEnd: () => Promise<void>,
): Promise<void> {
  const started = performance.now();
  const { kind, request, horizon } = data;
  const name = kind.toUpperCase();
  await ctx.emit('RunStarted', { workerId: ctx.workerId, totalBars: 0 });
  await ctx.log(
    'INFO',
    `${name} started: data source ${request.data_source_id}, ${horizon.intervals} intervals from ${horizon.start}`,
    {
      attempt: ctx.attempt,
      ...(request.triggered_by ? { triggered_by: request.triggered_by } : {}),
    },
  );

  const source: EnergySource | undefined = await deps.sources.energySource(request.data_source_id);
  if (!source) throw new EnergyRunError(`data source "${request.data_source_id}" not found`, 'DATA_SOURCE_NOT_FOUND');
  await ctx.emit('RunProgressed', { percent: 20 });
  await ctx.log(
    'INFO',
    `data loaded: "${source.name}", ${source.intervals} intervals of ${source.intervalMinutes} min (${source.origin})`,
  );

  const config = parseModelConfig(request.model_config);
  if (!config.ok)
    throw new EnergyRunError(config.issues.map((i) => `${i.field}: ${i.reason}`).join('; '), 'INVALID_MODEL_CONFIG');
  const base = { series: source.series, asset: source.asset, config: config.value };
  let committedFrom: string | undefined;
  let solve: Omit<SolveRequest, 'id'>;
  if (kind === 'dmo') {
    solve = { kind, input: { ...base, deliveryStart: horizon.start, intervals: horizon.intervals } };
  } else if (kind === 'rmo') {
    const day = marketDate(horizon.start);
    const position = await deps.positions.get(source.id, day);
    let committed: number[] | undefined;
    if (position) {
      committedFrom = position.runId;
      const stepMs = source.intervalMinutes * 60_000;
      const t0 = Date.parse(horizon.start);
      const p0 = Date.parse(position.start);
      committed = Array.from({ length: horizon.intervals }, (_, i) => {
        const k = Math.round((t0 + i * stepMs - p0) / (position.intervalMinutes * 60_000));
        return position.netMW[k] ?? 0;
      });
      await ctx.log('INFO', `committed position: DMO run ${position.runId} for ${day}`);
    } else {
      await ctx.log(
        'WARNING',
        `no completed DMO for ${day} on this data source: re-planning against a committed position of zero`,
      );
    }
    solve = {
      kind,
      input: { ...base, from: horizon.start, intervals: horizon.intervals, ...(committed ? { committed } : {}) },
    };
  } else {
    solve = {
      kind,
      input: {
        ...base,
        from: horizon.start,
        intervals: horizon.intervals,
        initialSocMWh: request.initial_soc_mwh ?? source.asset.initialSocMWh,
      },
    };
  }
  await ctx.emit('RunProgressed', { percent: 40 });
  await ctx.log('INFO', `model built: ${horizon.intervals} intervals; solving with HiGHS`);
  let result: EnergyResult | SetpointResult;
  try {
    result = await deps.solver.solve(solve, signal);
  } catch (err) {
    // Cancelled, out of time, or the worker is shutting down: the solve was stopped mid-way.
    if (err instanceof SolveAbortedError && signal.aborted) throw new RunAbortedError();
    throw err;
  }
  await ctx.emit('RunProgressed', { percent: 90 });
  for (const note of result.notes) await ctx.log('INFO', note);

  const requestedGap = config.value.mip_gap;
  if (result.status === 'time_limit' && result.objectiveValue !== null) {
    const gap = result.mipGap === undefined ? 'unknown' : `${(result.mipGap * 100).toFixed(2)}%`;
    await ctx.log(
      'WARNING',
      `time limit reached: the plan is the best found, with a MIP gap of ${gap}${requestedGap !== undefined ? ` (requested ${(requestedGap * 100).toFixed(2)}%)` : ''}`,
    );
  } else if (result.status !== 'optimal') {
    throw new EnergyRunError(
      `solver status ${result.status}: ${result.reason ?? 'no plan'}`,
      `SOLVER_${result.status.toUpperCase()}`,
    );
  }

  if (kind === 'dmo') {
    // The plan is the committed day-ahead position RMO re-plans (the latest completed DMO wins).
    await deps.positions.put(source.id, marketDate(horizon.start), {
      runId: ctx.runId,
      start: horizon.start,
      intervalMinutes: source.intervalMinutes,
      netMW: result.schedule.map((r) => r.dischargeMW - r.chargeMW),
    });
  }
  await beforeEnd();
  await ctx.log(
    'INFO',
    `${name} completed: objective ${fmt(result.objectiveValue)} €, ${result.schedule.length} intervals, solver ${fmt(result.solverTimeMs, 0)} ms (${result.status})`,
  );
  const payload: EnergyResultPayload = {
    model: kind,
    solver_status: result.status,
    objective_value: result.objectiveValue,
    solver_time_ms: result.solverTimeMs,
    results_count: result.schedule.length,
    ...(result.mipGap !== undefined ? { mip_gap: result.mipGap } : {}),
    integer: result.integer,
    schedule: result.schedule,
    ...('setpoints' in result ? { setpoints: result.setpoints } : {}),
    summary: { ...result.summary },
    notes: result.notes,
    ...(committedFrom ? { committed_from: committedFrom } : {}),
  };
  await ctx.emit('RunCompleted', { durationMs: performance.now() - started, result: payload });
}
