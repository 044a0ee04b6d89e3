import { z } from 'zod';
import { BacktestRequestSchema, OptimizationRequestSchema, RUN_STATUSES } from '@runforge/contracts';
import { CreateScheduleSchema, PatchScheduleSchema } from '@runforge/scheduling';
import { CreateKeySchema } from '../auth/manage-keys/keys.controller';

/**
 * The OpenAPI 3.1 description served at `/docs/openapi.json`. Request bodies come straight from the
 * zod schemas that validate them (one definition), so the document cannot drift from what the API
 * accepts; responses are described in prose and small schemas.
 */

const schema = (s: z.ZodType): Record<string, unknown> => {
  const { $schema: _drop, ...rest } = z.toJSONSchema(s, { io: 'input', unrepresentable: 'any' }) as Record<
    string,
    unknown
  >;
  return rest;
};

const ref = (name: string) => ({ $ref: `#/components/schemas/${name}` });
const json = (s: unknown) => ({ 'application/json': { schema: s } });
const problem = (description: string) => ({ description, content: json(ref('Problem')) });
const idParam = { name: 'id', in: 'path', required: true, schema: { type: 'string' } };
const query = (name: string, description: string, s: Record<string, unknown> = { type: 'string' }) => ({
  name,
  in: 'query',
  required: false,
  description,
  schema: s,
});
const idempotencyKey = {
  name: 'Idempotency-Key',
  in: 'header',
  required: false,
  description: 'Same key → same run and 202 body for 48 h; same key with another body → 422.',
  schema: { type: 'string', maxLength: 200 },
};

type Op = Record<string, unknown>;
const op = (tag: string, summary: string, extra: Op): Op => ({ tags: [tag], summary, ...extra });

export function buildOpenApiDocument(): Record<string, unknown> {
  const cancel = (kind: string): Op =>
    op(
      kind,
      `Cancel ${kind === 'Optimizations' ? 'an optimization' : kind === 'Runs' ? 'a run of any kind' : 'a backtest'}`,
      {
        parameters: [idParam],
        responses: {
          200: {
            description: 'Cancelled (from Pending, or confirmed by the worker)',
            content: json(ref('CancelAnswer')),
          },
          202: {
            description: 'Cancellation accepted; the worker did not confirm in time',
            content: json(ref('CancelAnswer')),
          },
          404: problem('Unknown id'),
          409: problem('Already Completed, Failed or Cancelled (the body carries `status`)'),
        },
      },
    );
  return {
    openapi: '3.1.0',
    info: {
      title: 'RunForge API',
      version: '0.1.0',
      description:
        'Backtests and optimizations as event-sourced runs. See the README for the semantics of each field.\n\n' +
        'Every call needs `Authorization: Bearer <API key>` (401 without a live one). Roles: viewer (every GET and ' +
        'live stream), operator (+ submit, cancel, retry, trigger, uploads), admin (+ schedules, keys); a lower ' +
        'role gets 403 naming the one needed. `/health/*` and these docs are open.',
    },
    // Every operation needs a bearer credential unless it says otherwise.
    security: [{ bearer: [] }],
    paths: {
      '/api/backtests': {
        post: op('Backtests', 'Submit a backtest', {
          parameters: [idempotencyKey],
          requestBody: { required: true, content: json(ref('BacktestRequest')) },
          responses: {
            202: { description: 'Accepted; `Location` points at the status', content: json(ref('Accepted')) },
            400: problem('Invalid request: `issues` name each field and reason'),
            415: problem('The body is not application/json'),
            422: problem('Idempotency-Key reused with a different body'),
          },
        }),
      },
      '/api/backtests/{id}/status': {
        get: op('Backtests', 'Status, progress and result of a backtest', {
          parameters: [idParam],
          responses: { 200: { description: 'The run', content: json(ref('RunStatus')) }, 404: problem('Unknown id') },
        }),
      },
      '/api/backtests/{id}/cancel': { post: cancel('Backtests') },
      '/api/optimizations': {
        post: op('Optimizations', 'Submit a parameter grid', {
          parameters: [idempotencyKey],
          requestBody: { required: true, content: json(ref('OptimizationRequest')) },
          responses: {
            202: {
              description: 'Accepted with the number of combinations satisfying the constraints',
              content: json(ref('Accepted')),
            },
            400: problem('Invalid axes, constraints, or a grid over the limit'),
            415: problem('The body is not application/json'),
            422: problem('Idempotency-Key reused with a different body'),
          },
        }),
      },
      '/api/optimizations/{id}/status': {
        get: op('Optimizations', 'Progress in combinations, best trial so far, ETA, result', {
          parameters: [idParam],
          responses: { 200: { description: 'The run', content: json(ref('RunStatus')) }, 404: problem('Unknown id') },
        }),
      },
      '/api/optimizations/{id}/cancel': { post: cancel('Optimizations') },
      '/api/kinds': {
        get: op('Runs', 'Every kind a run can be of: its request schema, progress unit and lifecycle defaults', {
          responses: {
            200: { description: '`{items: [{name, source, description, progressUnit, requestSchema, policies}]}`' },
          },
        }),
      },
      '/api/runs/{id}/cancel': { post: cancel('Runs') },
      '/api/runs': {
        post: op('Runs', 'Submit a run of any kind: `{kind, ...request}` (see GET /api/kinds for each kind’s schema)', {
          parameters: [idempotencyKey],
          requestBody: {
            required: true,
            content: json({
              type: 'object',
              required: ['kind'],
              properties: { kind: { type: 'string', description: 'a name listed by GET /api/kinds' } },
              additionalProperties: true,
            }),
          },
          responses: {
            202: {
              description: 'Accepted: `{id, kind, status, ...}`; `Location` points at the run',
              content: json(ref('Accepted')),
            },
            400: problem(
              'Unknown kind (the known ones are listed), or a request its kind refuses: `issues` name each field',
            ),
            409: problem(
              "The kind's maxRunsPerWindow is used up: the body carries `nextAllowedAt` and the runs holding the window",
            ),
            415: problem('The body is not application/json'),
            422: problem('Idempotency-Key reused with a different body'),
          },
        }),
        get: op('Runs', 'List runs, newest first, with a stable cursor', {
          parameters: [
            query('kind', 'a kind name from GET /api/kinds (comma list)'),
            query('status', `${RUN_STATUSES.join(' | ')} (comma list)`),
            query('strategy', 'strategy name'),
            query('scheduleId', 'runs of one schedule'),
            query('principal', 'runs asked for by one principal: an API key id, a token subject, or `scheduler`'),
            query('dataSourceId', 'energy runs (dmo, rmo, so) over one data source'),
            query('triggeredBy', 'api | schedule | manual'),
            query('reason', 'failure reason, e.g. attempts_exhausted (dead letters)'),
            query('from', 'requested at or after (ISO-8601)'),
            query('to', 'requested before (ISO-8601)'),
            query('limit', '1..500, default 50', { type: 'integer' }),
            query('cursor', 'nextCursor of the previous page'),
          ],
          responses: { 200: { description: '`{items, nextCursor}`' }, 400: problem('A bad query parameter') },
        }),
      },
      '/api/runs/{id}': {
        get: op('Runs', 'A run with its latest logs', {
          parameters: [idParam],
          responses: {
            200: {
              description:
                'The run; an optimization also carries bestTrial, failures, etaSeconds/trialsPerSecond and lastProgressAt/secondsSinceProgress/stalled/stallAfterSeconds while running, and a result once ended, as its status endpoint does (see RunStatus)',
            },
            404: problem('Unknown id'),
          },
        }),
      },
      '/api/runs/{id}/logs': {
        get: op('Runs', 'Run logs, filtered by minimum level, paged', {
          parameters: [
            idParam,
            query('level', 'DEBUG | INFO | WARNING | ERROR (minimum)'),
            query('limit', 'page size', { type: 'integer' }),
            query('cursor', 'nextCursor'),
          ],
          responses: { 200: { description: '`{items, nextCursor}`' }, 404: problem('Unknown id') },
        }),
      },
      '/api/runs/{id}/trials': {
        get: op('Runs', "An optimization's trials", {
          parameters: [
            idParam,
            query('status', 'Completed | Failed', { type: 'string', enum: ['Completed', 'Failed'] }),
            query('sort', 'index | -index | score | -score | duration | -duration', {
              type: 'string',
              enum: ['index', '-index', 'score', '-score', 'duration', '-duration'],
              default: 'index',
            }),
            query('limit', 'page size', { type: 'integer', minimum: 1, maximum: 1000, default: 100 }),
            query('cursor', 'nextCursor of the previous page, with the same sort and status'),
          ],
          responses: {
            200: {
              description:
                '`{items, nextCursor, totalCombinations, completedCombinations, failedCombinations}`; failed trials carry errorMessage, errorStackTrace and fingerprint',
            },
            400: problem('A bad query parameter, or a cursor from another run, sort or status'),
            404: problem('Unknown id, or a backtest (only optimizations have trials)'),
          },
        }),
      },
      '/api/runs/{id}/events': {
        get: op('Runs', "The run's whole event history from the stream (audit)", {
          parameters: [idParam],
          responses: { 200: { description: '`{runId, events}`' }, 404: problem('Unknown id') },
        }),
      },
      '/api/runs/{id}/stream': {
        get: op('Runs', 'Server-Sent Events: live snapshots until terminal', {
          parameters: [idParam],
          responses: {
            200: {
              description:
                'text/event-stream: `event: snapshot` with the run as `GET /api/runs/{id}` answers it (without logs) on connect and on every change, then `event: end` with the terminal status',
            },
            404: problem('Unknown id'),
          },
        }),
      },
      '/api/runs/{id}/retry': {
        post: op('Runs', 'Redrive a finished run as a new run (retryOf)', {
          parameters: [idParam],
          responses: { 202: { description: 'The new run' }, 404: problem('Unknown id'), 409: problem('Still active') },
        }),
      },
      '/api/strategies': {
        get: op('Strategies', 'Strategies and their declared parameters, with the timeframes and objective metrics', {
          responses: {
            200: {
              description:
                '`{strategies, timeframes, objectiveMetrics, objectiveDefaultDirections}`: the direction each metric takes when a request names only the metric',
            },
          },
        }),
      },
      '/api/datasets': {
        post: op('Datasets', 'Upload an OHLCV CSV', {
          parameters: [
            query('symbol', 'required'),
            query('timeframe', 'inferred when absent'),
            query('name', 'optional label'),
          ],
          requestBody: { required: true, content: { 'text/csv': { schema: { type: 'string' } } } },
          responses: {
            201: { description: 'The dataset' },
            400: problem('Bad rows, each with its line number and reason'),
          },
        }),
        get: op('Datasets', 'Uploaded datasets', { responses: { 200: { description: '`{items}`' } } }),
      },
      '/api/datasets/{id}': {
        get: op('Datasets', 'One dataset', {
          parameters: [idParam],
          responses: { 200: { description: 'The dataset' }, 404: problem('Unknown id') },
        }),
      },
      '/api/schedules': {
        post: op('Schedules', 'Create a schedule', {
          requestBody: { required: true, content: json(ref('ScheduleCreate')) },
          responses: {
            201: { description: 'The schedule with nextFireTimes' },
            400: problem('Invalid cron, timezone or template'),
            409: problem('Name taken'),
          },
        }),
        get: op('Schedules', 'Schedules with their next fire times', {
          responses: { 200: { description: 'The schedules' } },
        }),
      },
      '/api/schedules/{id}': {
        get: op('Schedules', 'A schedule with next fire times, recent fires (and why) and last runs', {
          parameters: [idParam],
          responses: { 200: { description: 'The schedule' }, 404: problem('Unknown id') },
        }),
        patch: op('Schedules', 'Change a schedule (takes effect without a restart)', {
          parameters: [idParam],
          requestBody: { required: true, content: json(ref('SchedulePatch')) },
          responses: {
            200: { description: 'The schedule' },
            400: problem('Invalid field'),
            404: problem('Unknown id'),
          },
        }),
        delete: op('Schedules', 'Delete a schedule', {
          parameters: [idParam],
          responses: { 204: { description: 'Deleted' }, 404: problem('Unknown id') },
        }),
      },
      '/api/schedules/{id}/pause': {
        post: op('Schedules', 'Pause', { parameters: [idParam], responses: { 200: { description: 'The schedule' } } }),
      },
      '/api/schedules/{id}/resume': {
        post: op('Schedules', 'Resume', { parameters: [idParam], responses: { 200: { description: 'The schedule' } } }),
      },
      '/api/me': {
        get: op('Keys', 'Who the credential names, and its role (viewer)', {
          responses: { 200: { description: '`{principal: {kind, id, name}, role}`' } },
        }),
      },
      '/api/keys': {
        post: op('Keys', 'Create an API key (admin); the answer is the only one that shows its secret', {
          requestBody: { required: true, content: json(ref('KeyCreate')) },
          responses: { 201: { description: 'The key, with `secret` (rf_…)' }, 400: problem('Invalid field') },
        }),
        get: op('Keys', 'List keys (admin), never their secrets', { responses: { 200: { description: '`{items}`' } } }),
      },
      '/api/keys/{id}': {
        delete: op('Keys', 'Revoke a key at once (admin)', {
          parameters: [idParam],
          responses: { 200: { description: 'The revoked key' }, 404: problem('Unknown id') },
        }),
      },
      '/api/schedules/{id}/trigger': {
        post: op('Schedules', 'Run now (triggeredBy: manual)', {
          parameters: [idParam],
          responses: {
            202: { description: 'The run' },
            409: problem('Over the window limit (nextAllowedAt) or skipped by the overlap policy'),
          },
        }),
      },
    },
    components: {
      securitySchemes: {
        bearer: {
          type: 'http',
          scheme: 'bearer',
          description: 'An API key (rf_…) or, when configured, an OIDC access token',
        },
      },
      schemas: {
        KeyCreate: schema(CreateKeySchema),
        BacktestRequest: schema(BacktestRequestSchema),
        OptimizationRequest: schema(OptimizationRequestSchema),
        ScheduleCreate: schema(CreateScheduleSchema),
        SchedulePatch: schema(PatchScheduleSchema),
        Accepted: {
          type: 'object',
          required: ['id', 'status'],
          properties: {
            id: { type: 'string' },
            status: { const: 'Pending' },
            totalBars: { type: 'integer' },
            totalCombinations: { type: 'integer' },
          },
        },
        RunStatus: {
          type: 'object',
          required: ['id', 'status'],
          properties: {
            id: { type: 'string' },
            status: { enum: [...RUN_STATUSES] },
            totalBars: { type: 'integer' },
            processedBars: { type: 'integer' },
            totalCombinations: { type: 'integer' },
            completedCombinations: { type: 'integer' },
            failedCombinations: { type: 'integer' },
            errorMessage: { type: 'string' },
            errorStackTrace: { type: 'string' },
            failureReason: { type: 'string' },
            result: { type: 'object' },
            bestTrial: { type: 'object', description: 'Optimizations: the best completed trial so far' },
            failures: {
              type: 'array',
              items: { type: 'object' },
              description:
                'Optimizations while running: failed trials grouped by kind (fingerprint, message, count, sampleTrialId)',
            },
            etaSeconds: {
              type: 'number',
              description:
                'Optimizations while Running, once a trial has finished and unless stalled: seconds left at the rate observed since the start',
            },
            trialsPerSecond: {
              type: 'number',
              description: 'Optimizations while Running: trials per second since the start',
            },
            lastProgressAt: {
              type: 'string',
              format: 'date-time',
              description:
                'When the latest trial outcome that counted was recorded (its event time; absent before the first). GET /api/runs/{id} and the live stream carry it for every run (null before any progress; for a backtest, its latest bar progress) with longestProgressGapMs, the longest wait between two progress moments so far',
            },
            secondsSinceProgress: {
              type: 'integer',
              description:
                'Optimizations while Running: seconds since lastProgressAt, or since the run started before its first outcome',
            },
            stalled: {
              type: 'boolean',
              description:
                'Optimizations while Running: no trial outcome for longer than stallAfterSeconds. Never true before the first outcome, and absent for Pending runs (waiting for a worker is not a stall)',
            },
            stallAfterSeconds: {
              type: 'integer',
              description:
                "Optimizations while Running, once a trial has finished: max(15, 3 × the longest wait between two outcomes so far, the wait for the first included) — the run's own pace",
            },
            attempt: { type: 'integer' },
            traceId: { type: ['string', 'null'] },
          },
        },
        CancelAnswer: {
          type: 'object',
          properties: {
            id: { type: 'string' },
            status: { enum: ['Cancelled', 'Cancelling'] },
            message: { type: 'string' },
          },
        },
        Problem: {
          type: 'object',
          properties: {
            statusCode: { type: 'integer' },
            error: { type: 'string' },
            message: { type: 'string' },
            issues: {
              type: 'array',
              items: { type: 'object', properties: { field: { type: 'string' }, reason: { type: 'string' } } },
            },
          },
        },
      },
    },
  };
}
