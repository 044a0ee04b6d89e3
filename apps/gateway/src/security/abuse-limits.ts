import { createHash } from 'node:crypto';
import cors from '@fastify/cors';
import helmet from 'helmet';
import rateLimit from '@fastify/rate-limit';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { bearerOf } from '../auth/authenticator.service';

/** The gateway's limits against abuse, from the environment (see README, Configuration). */
export interface AbuseLimits {
  /** Submissions, triggers and uploads one credential may make per window. */
  readonly rateMax: number;
  readonly rateWindowMs: number;
  /** Largest JSON body (bytes). */
  readonly jsonBodyBytes: number;
  /** Largest CSV upload (bytes). */
  readonly csvBodyBytes: number;
  /** Origins allowed to call the API from a browser (CORS); none by default. */
  readonly corsOrigins: readonly string[];
}

const MIB = 1024 * 1024;

function positiveInt(env: NodeJS.ProcessEnv, name: string, fallback: number): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n <= 0) throw new Error(`${name} must be a positive integer, got "${raw}"`);
  return n;
}

export function abuseLimitsFrom(env: NodeJS.ProcessEnv = process.env): AbuseLimits {
  return {
    rateMax: positiveInt(env, 'RUNFORGE_RATE_LIMIT_MAX', 600),
    rateWindowMs: positiveInt(env, 'RUNFORGE_RATE_LIMIT_WINDOW_MS', 60_000),
    jsonBodyBytes: positiveInt(env, 'RUNFORGE_JSON_BODY_LIMIT', 16 * MIB),
    csvBodyBytes: positiveInt(env, 'RUNFORGE_CSV_BODY_LIMIT', 128 * MIB),
    corsOrigins: (env.RUNFORGE_CORS_ORIGINS ?? '')
      .split(',')
      .map((o) => o.trim())
      .filter(Boolean),
  };
}

/** The routes that cost the system work: each credential gets `rateMax` of them per window. */
const RATE_LIMITED = new Set([
  'POST /api/runs',
  'POST /api/backtests',
  'POST /api/optimizations',
  'POST /api/runs/:id/retry',
  'POST /api/schedules/:id/trigger',
  'POST /api/datasets',
  'POST /api/energy/sources',
]);

export function isRateLimited(req: Pick<FastifyRequest, 'method' | 'routeOptions'>): boolean {
  return RATE_LIMITED.has(`${req.method} ${req.routeOptions.url ?? ''}`);
}

/**
 * Whose budget a request spends: its credential's (hashed: the secret itself is never a map key
 * that could be dumped), or its address when it has none (it will get a 401 anyway).
 */
function budgetOf(req: FastifyRequest): string {
  const credential = bearerOf(req.headers.authorization);
  return credential ? `c:${createHash('sha256').update(credential).digest('hex')}` : `ip:${req.ip}`;
}

/**
 * Security headers (helmet, with a CSP fitting the dashboard and Swagger UI), CORS closed unless
 * origins are listed, and the per-credential rate limit. The body limits are the adapter's (JSON)
 * and the CSV parser's.
 */
export async function registerAbuseLimits(
  app: NestFastifyApplication,
  limits: AbuseLimits,
  /** Origins the dashboard itself calls besides the gateway: the OIDC issuer it signs in with. */
  connectOrigins: readonly string[] = [],
): Promise<void> {
  // On Fastify itself, typed as the plugins see it: @nestjs/platform-fastify carries its own copy of
  // Fastify's types, which the plugins' augmentations don't reach.
  const fastify = app.getHttpAdapter().getInstance() as unknown as FastifyInstance;
  // helmet's middleware, built once. (@fastify/helmet rebuilt it on every request, parsing the CSP
  // each time: about 5% of the gateway's CPU per short job in bench:throughput's profile.)
  const securityHeaders = helmet({
    contentSecurityPolicy: {
      directives: {
        defaultSrc: ["'self'"],
        scriptSrc: ["'self'"],
        // Swagger UI and the charts set style attributes.
        styleSrc: ["'self'", "'unsafe-inline'"],
        imgSrc: ["'self'", 'data:'],
        connectSrc: ["'self'", ...connectOrigins],
        objectSrc: ["'none'"],
        frameAncestors: ["'none'"],
        baseUri: ["'self'"],
        formAction: ["'self'"],
        // The gateway is often reached over plain HTTP (localhost, behind a TLS proxy): don't rewrite URLs.
        upgradeInsecureRequests: null,
      },
    },
  });
  fastify.addHook('onRequest', (req, reply, done) =>
    securityHeaders(req.raw, reply.raw, (err?: unknown) => done(err instanceof Error ? err : undefined)),
  );
  await fastify.register(cors, {
    origin: limits.corsOrigins.length > 0 ? [...limits.corsOrigins] : false,
    allowedHeaders: ['authorization', 'content-type', 'idempotency-key', 'if-none-match'],
    exposedHeaders: ['location', 'retry-after', 'etag'],
  });
  const windowSeconds = Math.ceil(limits.rateWindowMs / 1000);
  await fastify.register(rateLimit, {
    global: true,
    max: limits.rateMax,
    timeWindow: limits.rateWindowMs,
    allowList: (req) => !isRateLimited(req),
    keyGenerator: budgetOf,
    errorResponseBuilder: (_req, ctx) => ({
      statusCode: 429,
      error: 'Too Many Requests',
      message: `at most ${ctx.max} submissions, triggers and uploads per ${windowSeconds} s for one key; retry in ${Math.ceil(ctx.ttl / 1000)} s`,
    }),
  });
}
