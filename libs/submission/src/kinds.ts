import { z } from 'zod';
import {
  BacktestRequestSchema,
  OptimizationRequestSchema,
  ProgramRunRequestSchema,
  toFieldIssues,
  type EventDataInput,
  type FieldIssue,
  type Priority,
  type ProgressUnit,
} from '@runforge/contracts';
import type { DatasetCatalog } from '@runforge/datasets';
import type { JetStreamClient } from '@runforge/messaging';
import { loadProgramKinds, type DeclaredProgramKind, type ProgramKinds } from './program-kinds';
import type { MaxRunsPerWindow } from './run-windows';
import type { EnergySourceCatalog } from '@runforge/datasets';
import { energyKinds } from './energy-kinds';
import {
  submitRun,
  validateBacktestRequest,
  validateOptimizationRequest,
  type SubmitOptions,
  type Submitted,
  type Validated,
} from './submission';

/** What a client needs to know of a kind to build a request for it (`GET /api/kinds`). */
export interface KindDescription {
  readonly name: string;
  readonly source: 'builtin' | 'program';
  readonly description: string;
  /** What `processed / total` counts in the run's status (its `progress` is always 0–100). */
  readonly progressUnit: ProgressUnit;
  /** JSON Schema of the request body `POST /api/runs` takes for this kind (besides `kind`). */
  readonly requestSchema: Record<string, unknown>;
  /** Defaults of the lifecycle a run of this kind gets. */
  readonly policies: {
    readonly maxRetries: number;
    readonly timeoutSeconds: number;
    readonly heartbeatSeconds: number;
    readonly stallSeconds: number | null;
    /** Whether a timeout ends only the attempt (retried) or the run (`Failed`, reason `timeout`). */
    readonly retryOnTimeout: boolean;
    readonly maxRunsPerWindow: MaxRunsPerWindow | null;
  };
}

/** A `RunRequested` payload without who triggered it (each variant of the union on its own). */
type WithoutProvenance<T> = T extends unknown ? Omit<T, 'triggeredBy' | 'scheduleId' | 'retryOf' | 'principal'> : never;

/** A request the kind accepted, ready to publish. */
export interface AcceptedRun {
  /** The `RunRequested` payload, without who triggered it. */
  readonly data: WithoutProvenance<EventDataInput<'RunRequested'>>;
  readonly priority: Priority;
  /** What the 202 answer adds to `{id, status}` (e.g. `totalBars`, `totalCombinations`). */
  readonly answer: Record<string, number | string>;
}

/** What validating a request may look up, and when it is made (a schedule's fire time, or now). */
export interface SubmissionContext {
  readonly datasets?: DatasetCatalog;
  readonly energySources?: EnergySourceCatalog;
  readonly now?: Date;
}

/** A kind as submission knows it: how it is described, how its requests are validated. */
export interface SubmittableKind {
  readonly description: KindDescription;
  /** `request` is the body without its `kind` (the registry has checked it is an object). */
  validate(request: Record<string, unknown>, ctx: SubmissionContext, prefix?: string): Promise<Validated<AcceptedRun>>;
  /** The key its `maxRunsPerWindow` is counted under (default: the kind's name), e.g. per data source. */
  windowKey?(run: AcceptedRun): string;
}

const jsonSchemaOf = (schema: z.ZodType): Record<string, unknown> =>
  z.toJSONSchema(schema, { io: 'input', unrepresentable: 'any' });

const builtinPolicies = (timeoutSeconds: number): KindDescription['policies'] => ({
  maxRetries: 3,
  timeoutSeconds,
  heartbeatSeconds: 2,
  stallSeconds: null,
  // The engine is deterministic: a run that ran out of time once would again.
  retryOnTimeout: false,
  maxRunsPerWindow: null,
});

const backtestKind: SubmittableKind = {
  description: {
    name: 'backtest',
    source: 'builtin',
    description: 'One strategy with fixed parameters over a dataset of bars (the built-in engine).',
    progressUnit: 'bars',
    requestSchema: jsonSchemaOf(BacktestRequestSchema),
    policies: builtinPolicies(600),
  },
  async validate(body, ctx, prefix = '') {
    const v = await validateBacktestRequest(body, ctx.datasets, prefix);
    if (!v.ok) return v;
    const { request, totalBars } = v.value;
    return {
      ok: true,
      value: { data: { kind: 'backtest', request, totalBars }, priority: request.priority, answer: { totalBars } },
    };
  },
};

const optimizationKind: SubmittableKind = {
  description: {
    name: 'optimization',
    source: 'builtin',
    description: 'A grid of backtests over parameter axes, fanned out across the workers; the best trials win.',
    progressUnit: 'combinations',
    requestSchema: jsonSchemaOf(OptimizationRequestSchema),
    policies: builtinPolicies(3600),
  },
  async validate(body, ctx, prefix = '') {
    const v = await validateOptimizationRequest(body, ctx.datasets, prefix);
    if (!v.ok) return v;
    const { request, totalBars, totalCombinations } = v.value;
    return {
      ok: true,
      value: {
        data: { kind: 'optimization', request, totalBars, totalCombinations },
        priority: request.priority,
        answer: { totalBars, totalCombinations },
      },
    };
  },
};

/** What a client may set on a program kind's run; the rest comes from the kind's declaration. */
const ProgramBodySchema = z
  .object({
    params: z.record(z.string(), z.unknown()).default({}),
    priority: ProgramRunRequestSchema.shape.priority,
  })
  .strict();

function programKind(kind: DeclaredProgramKind): SubmittableKind {
  const requestSchema: Record<string, unknown> = {
    type: 'object',
    additionalProperties: false,
    properties: {
      params: kind.paramsSchema ?? { type: 'object' },
      priority: { type: 'string', enum: ['high', 'normal'], default: 'normal' },
    },
  };
  const window = kind.maxRunsPerWindow;
  return {
    description: {
      name: kind.name,
      source: 'program',
      description: kind.description ?? `The program ${kind.command.join(' ')}`,
      progressUnit: 'percent',
      requestSchema,
      policies: {
        maxRetries: kind.maxRetries,
        timeoutSeconds: kind.timeoutSeconds,
        heartbeatSeconds: kind.heartbeatSeconds,
        stallSeconds: kind.stallSeconds ?? null,
        retryOnTimeout: kind.retryOnTimeout,
        maxRunsPerWindow: window ? { count: window.count, window: '1d', timeZone: window.timeZone ?? 'UTC' } : null,
      },
    },
    validate(raw, _ctx, prefix = '') {
      return Promise.resolve(validateProgramBody(kind, raw, prefix));
    },
  };
}

function validateProgramBody(
  kind: DeclaredProgramKind,
  raw: Record<string, unknown>,
  prefix: string,
): Validated<AcceptedRun> {
  const parsed = ProgramBodySchema.safeParse(raw);
  if (!parsed.success) return { ok: false, issues: toFieldIssues(parsed.error, prefix.replace(/\.$/, '')) };
  const issues: FieldIssue[] = kind
    .validateParams(parsed.data.params)
    .map((i) => ({ field: `${prefix}${i.field}`, reason: i.reason }));
  if (issues.length > 0) return { ok: false, issues };
  const request = ProgramRunRequestSchema.parse({
    params: parsed.data.params,
    priority: parsed.data.priority,
    maxRetries: kind.maxRetries,
    heartbeatSeconds: kind.heartbeatSeconds,
    timeoutSeconds: kind.timeoutSeconds,
    retryOnTimeout: kind.retryOnTimeout,
    ...(kind.stallSeconds === undefined ? {} : { stallSeconds: kind.stallSeconds }),
  });
  return {
    ok: true,
    value: { data: { kind: 'program', program: kind.name, request }, priority: request.priority, answer: {} },
  };
}

/**
 * Every kind RunForge can run: the built-in ones, then the program kinds the workers declare (the
 * same `RUNFORGE_PROGRAM_KINDS` file the workers read). The gateway, the scheduler and the CLI look
 * kinds up here; nothing else switches on a kind's name.
 */
export class KindRegistry {
  private readonly kinds = new Map<string, SubmittableKind>();

  /** The env var naming the program kinds file(s) the gateway, the scheduler and the workers read. */
  static readonly ENV = 'RUNFORGE_PROGRAM_KINDS';

  /** The built-in kinds and those declared in `files` (`a.yaml:b.yaml`; none when unset). */
  static async load(files: string | undefined = process.env[KindRegistry.ENV]): Promise<KindRegistry> {
    return new KindRegistry(files ? await loadProgramKinds(files) : new Map());
  }

  constructor(programs: ProgramKinds = new Map()) {
    for (const k of [backtestKind, optimizationKind, ...energyKinds()]) this.kinds.set(k.description.name, k);
    for (const p of programs.values()) this.kinds.set(p.name, programKind(p));
  }

  names(): string[] {
    return [...this.kinds.keys()];
  }

  get(name: string): SubmittableKind | undefined {
    return this.kinds.get(name);
  }

  policiesOf(name: string): KindDescription['policies'] | undefined {
    return this.kinds.get(name)?.description.policies;
  }

  /**
   * The window an accepted run claims a slot of, if its kind limits runs per window: the key it is
   * counted under and the policy.
   */
  windowOf(run: AcceptedRun & { kind: string }): { key: string; policy: MaxRunsPerWindow } | undefined {
    const kind = this.kinds.get(run.kind);
    const policy = kind?.description.policies.maxRunsPerWindow;
    if (!kind || !policy) return undefined;
    return { key: kind.windowKey?.(run) ?? run.kind, policy };
  }

  describe(): KindDescription[] {
    return [...this.kinds.values()].map((k) => k.description);
  }

  /** `{kind, ...request}` validated by its kind's rules; an unknown or missing kind names the known ones. */
  async validate(
    body: unknown,
    ctx: SubmissionContext,
    /** Where the request sits in a larger body (`template.` in a schedule): prefixed to each field. */
    prefix = '',
  ): Promise<Validated<AcceptedRun & { kind: string }>> {
    if (body === null || typeof body !== 'object' || Array.isArray(body))
      return {
        ok: false,
        issues: [{ field: prefix.replace(/\.$/, '') || '(body)', reason: 'expected a JSON object with a "kind"' }],
      };
    const { kind, ...request } = body as Record<string, unknown>;
    const known = this.names().join(', ');
    if (typeof kind !== 'string')
      return { ok: false, issues: [{ field: `${prefix}kind`, reason: `required: one of ${known}` }] };
    const found = this.kinds.get(kind);
    if (!found)
      return {
        ok: false,
        issues: [{ field: `${prefix}kind`, reason: `unknown kind "${kind}"; known kinds: ${known}` }],
      };
    const v = await found.validate(request, ctx, prefix);
    return v.ok ? { ok: true, value: { ...v.value, kind } } : v;
  }
}

/** Publishes a run a kind accepted. */
export function submitAccepted(client: JetStreamClient, run: AcceptedRun, opts: SubmitOptions): Promise<Submitted> {
  const data = {
    ...run.data,
    triggeredBy: opts.triggeredBy,
    scheduleId: opts.scheduleId,
    retryOf: opts.retryOf,
    principal: opts.principal,
  } as EventDataInput<'RunRequested'>;
  return submitRun(client, data, run.priority, opts);
}
