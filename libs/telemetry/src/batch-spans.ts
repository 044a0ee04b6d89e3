import { context, SpanKind, trace, type Attributes, type Link, type Span } from '@opentelemetry/api';
import { contextFromTraceparent, recordSpanError, tracer } from './context';
import { ATTRS, SPANS } from './names';

/** What the batch helpers need to know of one consumed message. */
export interface TracedMessage {
  readonly seq: number;
  readonly runId: string;
  readonly type: string;
  readonly traceparent?: string;
}

/**
 * Traces one consumer batch that mixes the events of many runs (the projection). Each run's events
 * get a `runforge.projection.apply` span in THAT run's trace (its parent is the traceparent of the
 * run's first message in the batch), and the batch gets one `runforge.projection.batch` span of its
 * own, linked to every run span, that is active while `fn` runs — so the pg spans of the shared
 * transaction hang under the batch, not under an arbitrary run. All spans end when `fn` settles; a
 * failure is recorded on every one of them.
 */
export async function withRunBatchSpans<T>(
  msgs: readonly TracedMessage[],
  attributes: Attributes,
  fn: () => Promise<T>,
): Promise<T> {
  const groups = new Map<string, { first: TracedMessage; last: TracedMessage; count: number; types: Set<string> }>();
  for (const m of msgs) {
    const g = groups.get(m.runId);
    if (g) {
      g.last = m;
      g.count += 1;
      g.types.add(m.type);
    } else groups.set(m.runId, { first: m, last: m, count: 1, types: new Set([m.type]) });
  }
  const t = tracer();
  const runSpans: Span[] = [];
  const links: Link[] = [];
  for (const [runId, g] of groups) {
    const parent = contextFromTraceparent(g.first.traceparent);
    // No traceparent (an event published outside any trace): the apply span starts its own trace.
    const span = t.startSpan(
      SPANS.projection.apply,
      {
        kind: SpanKind.CONSUMER,
        root: parent === undefined,
        attributes: {
          [ATTRS.runId]: runId,
          [ATTRS.eventCount]: g.count,
          [ATTRS.eventTypes]: [...g.types],
          [ATTRS.firstSeq]: g.first.seq,
          [ATTRS.lastSeq]: g.last.seq,
        },
      },
      parent,
    );
    runSpans.push(span);
    links.push({ context: span.spanContext() });
  }
  const first = msgs[0];
  const last = msgs[msgs.length - 1];
  const batch = t.startSpan(
    SPANS.projection.batch,
    {
      kind: SpanKind.CONSUMER,
      root: true,
      links,
      attributes: {
        ...attributes,
        [ATTRS.batchSize]: msgs.length,
        [ATTRS.runCount]: groups.size,
        ...(first && last ? { [ATTRS.firstSeq]: first.seq, [ATTRS.lastSeq]: last.seq } : {}),
      },
    },
    context.active(),
  );
  const batchLink: Link = { context: batch.spanContext() };
  for (const s of runSpans) s.addLink(batchLink);
  try {
    return await context.with(trace.setSpan(context.active(), batch), fn);
  } catch (err) {
    for (const s of [batch, ...runSpans]) recordSpanError(s, err);
    throw err;
  } finally {
    batch.end();
    for (const s of runSpans) s.end();
  }
}
