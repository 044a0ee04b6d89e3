import {
  context,
  createContextKey,
  isSpanContextValid,
  ROOT_CONTEXT,
  SpanKind,
  SpanStatusCode,
  trace,
  TraceFlags,
  type Attributes,
  type Context,
  type Link,
  type Span,
} from '@opentelemetry/api';
import { parseTraceParent, W3CTraceContextPropagator } from '@opentelemetry/core';
import { ATTRS, type SpanName } from './names';

export const TRACER_NAME = 'runforge';

/**
 * NATS headers always carry W3C trace context (the contract), whatever `OTEL_PROPAGATORS` says, so
 * the helpers below use the W3C propagator directly instead of the global one.
 */
const w3c = new W3CTraceContextPropagator();
const getter = {
  keys: (c: Record<string, string>) => Object.keys(c),
  get: (c: Record<string, string>, k: string) => c[k],
};
const setter = { set: (c: Record<string, string>, k: string, v: string) => void (c[k] = v) };

/** Context key holding the run id of the current unit of work (read by the log mixin). */
const RUN_ID_KEY = createContextKey('runforge.run.id');

export function tracer() {
  return trace.getTracer(TRACER_NAME);
}

/** The W3C `traceparent` of the active span, or undefined when no valid span is active. */
export function currentTraceparent(ctx: Context = context.active()): string | undefined {
  const carrier: Record<string, string> = {};
  w3c.inject(ctx, carrier, setter);
  return carrier.traceparent;
}

/** The remote context a `traceparent` designates (ROOT_CONTEXT-based), or undefined when invalid. */
export function contextFromTraceparent(
  traceparent: string | undefined,
  base: Context = ROOT_CONTEXT,
): Context | undefined {
  if (!traceparent) return undefined;
  const ctx = w3c.extract(base, { traceparent }, getter);
  return trace.getSpanContext(ctx) ? ctx : undefined;
}

/** The 32-hex trace id inside a `traceparent`, or undefined (parsed, without building a context). */
export function traceIdOfTraceparent(traceparent: string | undefined): string | undefined {
  const sc = traceparent ? parseTraceParent(traceparent) : null;
  return sc && isSpanContextValid(sc) ? sc.traceId : undefined;
}

/** A span link to the span a `traceparent` designates (for batch spans covering several traces). */
export function linkToTraceparent(traceparent: string | undefined, attributes?: Attributes): Link | undefined {
  const ctx = contextFromTraceparent(traceparent);
  const sc = ctx ? trace.getSpanContext(ctx) : undefined;
  return sc ? { context: sc, attributes } : undefined;
}

/** Trace id and span id of the active span (for logs), or undefined. */
export function activeTraceIds(): { trace_id: string; span_id: string; trace_flags: string } | undefined {
  const sc = trace.getActiveSpan()?.spanContext();
  if (!sc || !trace.isSpanContextValid(sc)) return undefined;
  return {
    trace_id: sc.traceId,
    span_id: sc.spanId,
    trace_flags: `0${(sc.traceFlags & TraceFlags.SAMPLED).toString(16)}`,
  };
}

/** The run id of the active unit of work (set by `withSpanFromTraceparent` / `withRunId`). */
export function activeRunId(): string | undefined {
  const v = context.active().getValue(RUN_ID_KEY);
  return typeof v === 'string' ? v : undefined;
}

/** Runs `fn` with `runId` in the active context, so every log line inside carries it. */
export function withRunId<T>(runId: string, fn: () => T): T {
  return context.with(context.active().setValue(RUN_ID_KEY, runId), fn);
}

/** Marks a span failed: records the exception (message + stack) and sets the ERROR status. */
export function recordSpanError(span: Span, err: unknown): void {
  const error = err instanceof Error ? err : new Error(String(err));
  span.recordException(error);
  span.setStatus({ code: SpanStatusCode.ERROR, message: error.message });
}

export interface SpanOptions {
  readonly kind?: SpanKind;
  readonly links?: Link[];
}

/**
 * Runs `fn` inside a new active span whose parent is the remote span of `traceparent` (a message's
 * header); without a valid traceparent the span is a child of the active context (or a new root).
 * A thrown error is recorded on the span (exception event + ERROR status) and rethrown; the span
 * always ends. When `attributes` carry the run id, log lines inside carry it too.
 */
export async function withSpanFromTraceparent<T>(
  name: SpanName,
  traceparent: string | undefined,
  attributes: Attributes,
  fn: (span: Span) => Promise<T> | T,
  opts: SpanOptions = {},
): Promise<T> {
  let parent = contextFromTraceparent(traceparent, context.active()) ?? context.active();
  const runId = attributes[ATTRS.runId];
  if (typeof runId === 'string') parent = parent.setValue(RUN_ID_KEY, runId);
  return tracer().startActiveSpan(
    name,
    { kind: opts.kind ?? SpanKind.INTERNAL, attributes, links: opts.links },
    parent,
    async (span) => {
      try {
        return await fn(span);
      } catch (err) {
        recordSpanError(span, err);
        throw err;
      } finally {
        span.end();
      }
    },
  );
}

/** Like `withSpanFromTraceparent`, as a child of the active span (e.g. a trial inside a run). */
export async function withChildSpan<T>(
  name: SpanName,
  attributes: Attributes,
  fn: (span: Span) => Promise<T> | T,
  opts: SpanOptions = {},
): Promise<T> {
  return withSpanFromTraceparent(name, undefined, attributes, fn, opts);
}

export { SpanKind, SpanStatusCode };
export type { Span, Attributes, Link };
