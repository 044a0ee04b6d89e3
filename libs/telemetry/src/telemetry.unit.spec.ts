import { context, propagation, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { logCorrelation } from '@runforge/service';
import {
  activeRunId,
  currentTraceparent,
  traceIdOfTraceparent,
  withChildSpan,
  withSpanFromTraceparent,
} from './context';
import { ATTRS, SPANS } from './names';

const exporter = new InMemorySpanExporter();
const REMOTE = '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01';

beforeAll(() => {
  context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
  trace.setGlobalTracerProvider(new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] }));
});
afterAll(() => {
  trace.disable();
  context.disable();
  propagation.disable();
});
beforeEach(() => exporter.reset());

describe('withSpanFromTraceparent', () => {
  it('given a message traceparent, when work runs, then its span is a child of the remote span in the same trace', async () => {
    const seen = await withSpanFromTraceparent(
      SPANS.worker.run,
      REMOTE,
      { [ATTRS.runId]: 'r1', [ATTRS.attempt]: 2 },
      () => ({
        tp: currentTraceparent(),
        runId: activeRunId(),
        log: logCorrelation(),
      }),
    );
    const [span] = exporter.getFinishedSpans();
    expect(span?.name).toBe(SPANS.worker.run);
    expect(span?.spanContext().traceId).toBe('0af7651916cd43dd8448eb211c80319c');
    expect(span?.parentSpanContext?.spanId).toBe('b7ad6b7169203331');
    expect(span?.attributes[ATTRS.attempt]).toBe(2);
    // Inside the span, the current traceparent designates the span itself, and logs carry the ids.
    expect(seen.tp).toBe(`00-0af7651916cd43dd8448eb211c80319c-${span?.spanContext().spanId}-01`);
    expect(seen.runId).toBe('r1');
    expect(seen.log).toEqual({
      trace_id: '0af7651916cd43dd8448eb211c80319c',
      span_id: span?.spanContext().spanId,
      run_id: 'r1',
    });
  });

  it('records a thrown error on the span (exception event + ERROR status) and rethrows it', async () => {
    await expect(
      withSpanFromTraceparent(SPANS.worker.run, REMOTE, {}, () => {
        throw new Error('fast must be less than slow');
      }),
    ).rejects.toThrow('fast must be less than slow');
    const [span] = exporter.getFinishedSpans();
    expect(span?.status).toEqual({ code: 2, message: 'fast must be less than slow' });
    expect(span?.events.map((e) => e.name)).toEqual(['exception']);
    expect(span?.events[0]?.attributes?.['exception.stacktrace']).toEqual(
      expect.stringContaining('telemetry.unit.spec'),
    );
  });

  it('nests child spans and falls back to a new root without a valid traceparent', async () => {
    await withSpanFromTraceparent(SPANS.worker.run, 'garbage', {}, () =>
      withChildSpan(SPANS.worker.trial, { [ATTRS.trialIndex]: 3 }, () => undefined),
    );
    const [trial, run] = exporter.getFinishedSpans();
    expect(run?.parentSpanContext).toBeUndefined();
    expect(trial?.parentSpanContext?.spanId).toBe(run?.spanContext().spanId);
    expect(trial?.spanContext().traceId).toBe(run?.spanContext().traceId);
  });
});

describe('traceparent helpers', () => {
  it('reads the trace id of a valid traceparent only', () => {
    expect(traceIdOfTraceparent(REMOTE)).toBe('0af7651916cd43dd8448eb211c80319c');
    expect(traceIdOfTraceparent('00-00000000000000000000000000000000-b7ad6b7169203331-01')).toBeUndefined();
    expect(traceIdOfTraceparent(undefined)).toBeUndefined();
  });
  it('has no current traceparent outside a span, and no log correlation fields', () => {
    expect(currentTraceparent()).toBeUndefined();
    expect(logCorrelation()).toEqual({});
  });
});
