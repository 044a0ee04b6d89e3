import { diag, DiagConsoleLogger, DiagLogLevel } from '@opentelemetry/api';
import { NodeSDK } from '@opentelemetry/sdk-node';
import {
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

/** Keeps spans (so trace ids exist for runs and logs) but exports nothing: the quiet mode. */
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
 * Spans are always created (trace ids travel in NATS headers, are stored on runs and appear in
 * logs); they are exported over OTLP/HTTP only when `OTEL_EXPORTER_OTLP_ENDPOINT` (or the traces
 * variant) is set — protobuf by default, JSON with `OTEL_EXPORTER_OTLP_PROTOCOL=http/json`.
 * `OTEL_SDK_DISABLED=true` turns it all off. Idempotent.
 */
export function startTelemetry(service: string, env: NodeJS.ProcessEnv = process.env): void {
  if (started) return;
  started = service;
  if (env.OTEL_LOG_LEVEL === undefined) diag.setLogger(new DiagConsoleLogger(), DiagLogLevel.WARN);
  const exporter = traceExporter(env);
  const processor: SpanProcessor = exporter ? new BatchSpanProcessor(exporter) : new DiscardingSpanProcessor();
  sdk = new NodeSDK({
    serviceName: env.OTEL_SERVICE_NAME ?? service,
    spanProcessors: [processor],
    // Metrics are Prometheus (prom-client, GET /metrics) and logs are pino on stdout: the SDK's
    // own metric and log pipelines stay off instead of defaulting to OTLP.
    metricReaders: [],
    logRecordProcessors: [],
    instrumentations: [
      new HttpInstrumentation({
        ignoreIncomingRequestHook: (req: IncomingMessage) => QUIET_PATHS.some((p) => (req.url ?? '').startsWith(p)),
      }),
      new NestInstrumentation(),
      // Only queries inside a traced unit of work: no root span per readiness probe or lock poll.
      new PgInstrumentation({ requireParentSpan: true }),
    ],
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
