import { diag, DiagConsoleLogger, DiagLogLevel } from '@opentelemetry/api';
import { NodeSDK } from '@opentelemetry/sdk-node';
import {
  AlwaysOffSampler,
  BatchSpanProcessor,
  type ReadableSpan,
  type SpanExporter,
  type SpanProcessor,
} from '@opentelemetry/sdk-trace-base';
import { OTLPTraceExporter as OTLPProtoTraceExporter } from '@opentelemetry/exporter-trace-otlp-proto';
import { OTLPTraceExporter as OTLPJsonTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { HttpInstrumentation } from '@opentelemetry/instrumentation-http';
import { NestInstrumentation } from '@opentelemetry/instrumentation-nestjs-core';
import { PgInstrumentation } from '@opentelemetry/instrumentation-pg';
import type { IncomingMessage } from 'node:http';

/**
 * The quiet mode's processor: it receives nothing (the sampler records no span), but a tracer
 * provider is registered only with a processor, and without one root spans would get no trace id.
 */
class DiscardingSpanProcessor implements SpanProcessor {
  onStart(): void {}
  onEnd(_span: ReadableSpan): void {}
  forceFlush(): Promise<void> {
    return Promise.resolve();
  }
  shutdown(): Promise<void> {
    return Promise.resolve();
  }
}

let sdk: NodeSDK | undefined;
let started: string | undefined;

function otlpProtocol(env: NodeJS.ProcessEnv): string {
  return env.OTEL_EXPORTER_OTLP_TRACES_PROTOCOL ?? env.OTEL_EXPORTER_OTLP_PROTOCOL ?? 'http/protobuf';
}

/** The OTLP/HTTP exporter when an endpoint is configured; undefined otherwise (quiet). */
function traceExporter(env: NodeJS.ProcessEnv): SpanExporter | undefined {
  if (!env.OTEL_EXPORTER_OTLP_ENDPOINT && !env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT) return undefined;
  // The exporters read OTEL_EXPORTER_OTLP_(TRACES_)ENDPOINT / _HEADERS / _TIMEOUT themselves.
  const protocol = otlpProtocol(env);
  if (protocol === 'http/json') return new OTLPJsonTraceExporter();
  if (protocol !== 'http/protobuf') {
    diag.warn(`OTLP protocol "${protocol}" is not supported by RunForge; using http/protobuf`);
  }
  return new OTLPProtoTraceExporter();
}

const QUIET_PATHS = ['/health', '/metrics'];

/**
 * Starts OpenTelemetry for a service. Must run before Nest, Fastify or pg are loaded (the official
 * instrumentations patch modules as they are required): each app's `src/tracing.ts` calls it and is
 * the first import of its `main.ts`, and imports it through `@runforge/telemetry/start`, an entry
 * point that loads nothing but OpenTelemetry.
 *
 * Spans are recorded and exported over OTLP/HTTP when `OTEL_EXPORTER_OTLP_ENDPOINT` (or the traces
 * variant) is set — protobuf by default, JSON with `OTEL_EXPORTER_OTLP_PROTOCOL=http/json`.
 * Without an endpoint the service is quiet: trace context is still created and propagated (trace
 * ids travel in NATS headers, are stored on runs and appear in logs), but spans are not recorded
 * (non-recording, as a sampler that keeps none makes them) and the per-statement (pg) and
 * per-handler (Nest) instrumentations are not installed — recording spans nobody exports cost the
 * gateway, the projection and the workers several percent of their CPU per short job (BENCHMARKS.md,
 * "Short jobs at queue speed"). `OTEL_SDK_DISABLED=true` turns it all off. Idempotent.
 */
export function startTelemetry(service: string, env: NodeJS.ProcessEnv = process.env): void {
  if (started) return;
  started = service;
  if (env.OTEL_LOG_LEVEL === undefined) diag.setLogger(new DiagConsoleLogger(), DiagLogLevel.WARN);
  const exporter = traceExporter(env);
  const http = new HttpInstrumentation({
    ignoreIncomingRequestHook: (req: IncomingMessage) => QUIET_PATHS.some((p) => (req.url ?? '').startsWith(p)),
  });
  sdk = new NodeSDK({
    serviceName: env.OTEL_SERVICE_NAME ?? service,
    ...(exporter
      ? { spanProcessors: [new BatchSpanProcessor(exporter)] }
      : { spanProcessors: [new DiscardingSpanProcessor()], sampler: new AlwaysOffSampler() }),
    // Metrics are Prometheus (prom-client, GET /metrics) and logs are pino on stdout: the SDK's
    // own metric and log pipelines stay off instead of defaulting to OTLP.
    metricReaders: [],
    logRecordProcessors: [],
    // The HTTP server span gives each request its trace context (a caller's traceparent is joined).
    instrumentations: exporter
      ? [
          http,
          new NestInstrumentation(),
          // Only queries inside a traced unit of work: no root span per readiness probe or lock poll.
          new PgInstrumentation({ requireParentSpan: true }),
        ]
      : [http],
  });
  sdk.start();
}

/** Flushes and stops the SDK (called on application shutdown, see PlatformModule). */
export async function shutdownTelemetry(): Promise<void> {
  const s = sdk;
  sdk = undefined;
  await s?.shutdown().catch(() => undefined);
}

/** The service name telemetry was started for, if it was. */
export function telemetryService(): string | undefined {
  return started;
}
