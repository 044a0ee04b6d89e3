import { v7 as uuidv7 } from 'uuid';
import {
  BacktestRequestSchema,
  OptimizationRequestSchema,
  type OptimizationRequest,
  createEvent,
  toFieldIssues,
  type BacktestRequest,
  type DatasetRef,
  type EventDataInput,
  type FieldIssue,
  type Priority,
  type RunEvent,
  type Principal,
  type TriggeredBy,
} from '@runforge/contracts';
import {
  assertEnoughBars,
  assertStrategyParams,
  countCombinations,
  planGrid,
  resolveParams,
  StrategyParamError,
} from '@runforge/engine';
import { syntheticBarCount, type DatasetCatalog } from '@runforge/datasets';
import type { JetStreamClient } from '@runforge/messaging';

export type Validated<T> = { ok: true; value: T } | { ok: false; issues: FieldIssue[] };

/** A window bound (ISO-8601 or epoch ms) as epoch ms. */
const instantOf = (v: string | number): number => (typeof v === 'number' ? v : Date.parse(v));

async function countBars(
  ref: DatasetRef,
  catalog: DatasetCatalog | undefined,
  prefix: string,
): Promise<Validated<number>> {
  if (ref.from !== undefined && ref.to !== undefined && instantOf(ref.to) < instantOf(ref.from)) {
    return {
      ok: false,
      issues: [
        {
          field: `${prefix}dataset.to`,
          reason: `is before dataset.from (${String(ref.from)}): the window would be empty`,
        },
      ],
    };
  }
  let bars: number | undefined;
  if (ref.synthetic) bars = syntheticBarCount(ref);
  else bars = catalog ? await catalog.barCount(ref) : undefined;
  if (bars === undefined)
    return { ok: false, issues: [{ field: `${prefix}dataset.id`, reason: `unknown dataset "${ref.id}"` }] };
  if (bars < 2) {
    return {
      ok: false,
      issues: [{ field: `${prefix}dataset`, reason: `the window holds ${bars} bars; at least 2 are needed` }],
    };
  }
  return { ok: true, value: bars };
}

/**
 * Validates a backtest request exactly as the REST API does (shape, strategy and its parameters,
 * the strategy's own cross-parameter rules, the dataset). Used by the gateway and the scheduler.
 */
export async function validateBacktestRequest(
  body: unknown,
  catalog?: DatasetCatalog,
  prefix = '',
): Promise<Validated<{ request: BacktestRequest; totalBars: number }>> {
  if (body === null || typeof body !== 'object' || Array.isArray(body)) {
    return { ok: false, issues: [{ field: prefix || '(body)', reason: 'expected a JSON object' }] };
  }
  const parsed = BacktestRequestSchema.safeParse(body);
  if (!parsed.success) return { ok: false, issues: toFieldIssues(parsed.error, prefix.replace(/\.$/, '')) };
  const request = parsed.data;
  const resolved = resolveParams(request.strategy, request.params);
  if (!resolved.ok) {
    return { ok: false, issues: resolved.issues.map((i) => ({ field: `${prefix}${i.field}`, reason: i.reason })) };
  }
  const strategyIssue = (check: () => void): Validated<never> | undefined => {
    try {
      check();
      return undefined;
    } catch (err) {
      if (err instanceof StrategyParamError)
        return { ok: false, issues: [{ field: `${prefix}${err.field}`, reason: err.message }] };
      throw err;
    }
  };
  const refused = strategyIssue(() => assertStrategyParams(request.strategy, resolved.params));
  if (refused) return refused;
  const bars = await countBars(request.dataset, catalog, prefix);
  if (!bars.ok) return bars;
  const tooShort = strategyIssue(() => assertEnoughBars(request.strategy, resolved.params, bars.value));
  if (tooShort) return tooShort;
  return { ok: true, value: { request: { ...request, params: { ...resolved.params } }, totalBars: bars.value } };
}

export function newRunId(): string {
  return uuidv7();
}

export interface SubmitOptions {
  readonly runId?: string;
  readonly triggeredBy: TriggeredBy;
  readonly scheduleId?: string;
  readonly retryOf?: string;
  /** Who asked: the API's authenticated key or token, or the scheduler. */
  readonly principal?: Principal;
  readonly traceparent?: string;
  /** Overrides the message id (the scheduler derives it from schedule + fire time). */
  readonly msgId?: string;
  readonly now?: Date;
}

export type Submitted = { runId: string; event: RunEvent; duplicate: boolean };

/**
 * Publishes a validated run: its dispatch to the workers, then its `RunRequested`. Dispatch first:
 * a crash in between leaves an orphan dispatch (dropped by the worker), never an accepted run that
 * no worker executes.
 */
export async function submitRun(
  client: JetStreamClient,
  data: EventDataInput<'RunRequested'>,
  priority: Priority,
  opts: SubmitOptions,
): Promise<Submitted> {
  const runId = opts.runId ?? newRunId();
  const event = createEvent(
    'RunRequested',
    { runId, attempt: 0, occurredAt: (opts.now ?? new Date()).toISOString() },
    data,
  );
  await client.dispatchRun({
    type: 'RunDispatch',
    version: 1,
    runId,
    kind: event.data.kind,
    priority,
    totalBars: event.data.totalBars,
  });
  const ack = await client.publishEvent(event, { traceparent: opts.traceparent, msgId: opts.msgId });
  return { runId, event, duplicate: ack.duplicate };
}

const provenance = (opts: SubmitOptions) => ({
  triggeredBy: opts.triggeredBy,
  scheduleId: opts.scheduleId,
  retryOf: opts.retryOf,
  principal: opts.principal,
});

/** Publishes a validated backtest; returns the run id. */
export function submitBacktest(
  client: JetStreamClient,
  validated: { request: BacktestRequest; totalBars: number },
  opts: SubmitOptions,
): Promise<Submitted> {
  const { request, totalBars } = validated;
  return submitRun(client, { kind: 'backtest', request, totalBars, ...provenance(opts) }, request.priority, opts);
}

/**
 * Validates an optimization request as the REST API does: shape, axes against the strategy's
 * declared parameters, constraints (safe grammar), the grid size after constraints against
 * `maxCombinations`, and the dataset. Cross-parameter rules of the strategy are NOT checked here:
 * a combination the strategy rejects becomes a failed trial.
 */
export async function validateOptimizationRequest(
  body: unknown,
  catalog?: DatasetCatalog,
  prefix = '',
): Promise<Validated<{ request: OptimizationRequest; totalBars: number; totalCombinations: number }>> {
  if (body === null || typeof body !== 'object' || Array.isArray(body)) {
    return { ok: false, issues: [{ field: prefix || '(body)', reason: 'expected a JSON object' }] };
  }
  const parsed = OptimizationRequestSchema.safeParse(body);
  if (!parsed.success) return { ok: false, issues: toFieldIssues(parsed.error, prefix.replace(/\.$/, '')) };
  const request = parsed.data;
  // Checked here rather than in the schema, which also decodes requests stored before this rule.
  const mft = request.maxFailedTrials;
  const issues: FieldIssue[] = [];
  if (mft !== undefined && mft > 1 && !Number.isInteger(mft)) {
    const reason = 'must be a whole number of trials (1 or more) or a share of the grid between 0 and 1';
    issues.push({ field: `${prefix}maxFailedTrials`, reason });
  }
  const planned = planGrid(request.strategy, request.axes, request.params, request.constraints);
  if (!planned.ok) issues.push(...planned.issues.map((i) => ({ field: `${prefix}${i.field}`, reason: i.reason })));
  if (!planned.ok || issues.length > 0) return { ok: false, issues };
  const total = await countCombinations(planned.plan);
  if (total === 0) {
    return {
      ok: false,
      issues: [{ field: `${prefix}constraints`, reason: 'no combination of the axes satisfies the constraints' }],
    };
  }
  if (total > request.maxCombinations) {
    return {
      ok: false,
      issues: [
        {
          field: `${prefix}axes`,
          reason: `the grid has ${total} combinations${request.constraints.length > 0 ? ' after constraints' : ''}; the limit is ${request.maxCombinations} (maxCombinations, at most 100000)`,
        },
      ],
    };
  }
  const bars = await countBars(request.dataset, catalog, prefix);
  if (!bars.ok) return bars;
  return { ok: true, value: { request, totalBars: bars.value, totalCombinations: total } };
}

/** Publishes a validated optimization; returns the run id. */
export function submitOptimization(
  client: JetStreamClient,
  validated: { request: OptimizationRequest; totalBars: number; totalCombinations: number },
  opts: SubmitOptions,
): Promise<Submitted> {
  const { request, totalBars, totalCombinations } = validated;
  return submitRun(
    client,
    { kind: 'optimization', request, totalBars, totalCombinations, ...provenance(opts) },
    request.priority,
    opts,
  );
}
