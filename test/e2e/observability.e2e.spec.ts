import { createServer, type Server } from 'node:http';
import { gunzipSync } from 'node:zlib';
import type { AddressInfo } from 'node:net';
import { ATTRS, SPANS } from '@runforge/telemetry';
import { eventually } from '../support/eventually';
import { authHeaders, http, TestSystem, type ServiceName } from '../support/system';

jest.setTimeout(60_000);

// ---------------------------------------------------------------------------------------------
// An OTLP/HTTP JSON receiver in the test process: the services export through the real exporter.

interface OtlpAttr {
  key: string;
  value: OtlpValue;
}
interface OtlpValue {
  stringValue?: string;
  intValue?: string | number;
  boolValue?: boolean;
  doubleValue?: number;
  arrayValue?: { values?: OtlpValue[] };
}

function value(v: OtlpValue): unknown {
  if (v.arrayValue) return (v.arrayValue.values ?? []).map(value);
  return v.stringValue ?? (v.intValue !== undefined ? Number(v.intValue) : (v.boolValue ?? v.doubleValue));
}
interface CollectedSpan {
  service: string;
  traceId: string;
  spanId: string;
  parentSpanId: string;
  name: string;
  kind: number;
  status: { code?: number; message?: string };
  attributes: Record<string, unknown>;
  events: { name: string }[];
  links: { traceId: string; spanId: string }[];
}

/** OTLP JSON carries ids as hex (the JS exporter) or base64 (the proto3 JSON mapping). */
function hexId(id: unknown): string {
  if (typeof id !== 'string' || id === '') return '';
  return /^[0-9a-f]+$/i.test(id) && (id.length === 32 || id.length === 16)
    ? id.toLowerCase()
    : Buffer.from(id, 'base64').toString('hex');
}

function attrs(list: OtlpAttr[] | undefined): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const a of list ?? []) out[a.key] = value(a.value);
  return out;
}

class OtlpReceiver {
  readonly spans: CollectedSpan[] = [];
  private server?: Server;

  async start(): Promise<string> {
    this.server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        try {
          let body = Buffer.concat(chunks);
          if (req.headers['content-encoding'] === 'gzip') body = gunzipSync(body);
          if (req.url === '/v1/traces') this.ingest(JSON.parse(body.toString('utf8')) as OtlpTraces);
          res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
        } catch {
          res.writeHead(400).end();
        }
      });
    });
    await new Promise<void>((resolve) => this.server?.listen(0, '127.0.0.1', resolve));
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  async stop(): Promise<void> {
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }

  private ingest(req: OtlpTraces): void {
    for (const rs of req.resourceSpans ?? []) {
      const service = String(attrs(rs.resource?.attributes)['service.name']);
      for (const ss of rs.scopeSpans ?? []) {
        for (const s of ss.spans ?? []) {
          this.spans.push({
            service,
            traceId: hexId(s.traceId),
            spanId: hexId(s.spanId),
            parentSpanId: hexId(s.parentSpanId),
            name: s.name,
            kind: s.kind,
            status: s.status ?? {},
            attributes: attrs(s.attributes),
            events: s.events ?? [],
            links: (s.links ?? []).map((l) => ({ traceId: hexId(l.traceId), spanId: hexId(l.spanId) })),
          });
        }
      }
    }
  }
}

interface OtlpTraces {
  resourceSpans?: {
    resource?: { attributes?: OtlpAttr[] };
    scopeSpans?: {
      spans?: {
        traceId: string;
        spanId: string;
        parentSpanId?: string;
        name: string;
        kind: number;
        status?: { code?: number; message?: string };
        attributes?: OtlpAttr[];
        events?: { name: string }[];
        links?: { traceId: string; spanId: string }[];
      }[];
    }[];
  }[];
}

const SPAN_KIND = { server: 2, producer: 4, consumer: 5 } as const;

// ---------------------------------------------------------------------------------------------
// Prometheus text helpers.

function sample(text: string, name: string, labels: Record<string, string> = {}): number | undefined {
  let total: number | undefined;
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`) && !line.startsWith(`${name} `)) continue;
    const m = /^[^{\s]+(?:\{(.*)\})?\s+(\S+)$/.exec(line);
    if (!m) continue;
    const got: Record<string, string | undefined> = Object.fromEntries(
      [...(m[1] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)].map((x) => [x[1], x[2]]),
    );
    if (Object.entries(labels).every(([k, v]) => got[k] === v)) total = (total ?? 0) + Number(m[2]);
  }
  return total;
}

interface Status {
  id: string;
  status: string;
  traceId: string | null;
  processedBars: number;
}

describe('observability: one trace per run, metrics on every service', () => {
  const receiver = new OtlpReceiver();
  let sys: TestSystem;
  let runId: string;
  let final: Status;
  const before: Partial<Record<ServiceName, string>> = {};

  const url = (name: ServiceName): string => {
    const p = sys.processes.find((x) => x.name === name);
    if (!p) throw new Error(`${name} not started`);
    return p.url;
  };
  const scrape = async (name: ServiceName): Promise<string> => {
    // The gateway's /metrics needs a viewer key (the other services' are open on their internal ports).
    const r = await fetch(`${url(name)}/metrics`, { headers: authHeaders(sys) });
    expect(r.status).toBe(200);
    expect(r.headers.get('content-type')).toContain('text/plain');
    return r.text();
  };

  beforeAll(async () => {
    const endpoint = await receiver.start();
    sys = await TestSystem.start(['gateway', 'engine-worker', 'projection'], {
      OTEL_EXPORTER_OTLP_ENDPOINT: endpoint,
      OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json',
      OTEL_BSP_SCHEDULE_DELAY: '100',
      LOG_LEVEL: 'info',
    });
    for (const s of ['gateway', 'engine-worker', 'projection'] as const) before[s] = await scrape(s);

    const submitted = await http<{ id: string }>(sys.gateway.url, 'POST', '/api/backtests', {
      strategy: 'sma-crossover',
      params: { fast: 5, slow: 20 },
      dataset: { synthetic: { bars: 50_000, seed: 3, timeframe: '1m' } },
    });
    expect(submitted.status).toBe(202);
    runId = submitted.body.id;
    final = await eventually(
      'the traced backtest to complete',
      async () => (await http<Status>(sys.gateway.url, 'GET', `/api/backtests/${runId}/status`)).body,
      (s) => s.status === 'Completed' || s.status === 'Failed',
      { timeoutMs: 60_000, intervalMs: 50 },
    );
    expect(final.status).toBe('Completed');
  }, 120_000);

  afterAll(async () => {
    if (process.env.RUNFORGE_E2E_DUMP_SPANS) {
      const { writeFileSync } = await import('node:fs');
      writeFileSync(process.env.RUNFORGE_E2E_DUMP_SPANS, receiver.spans.map((s) => JSON.stringify(s)).join('\n'));
    }
    await sys?.stop();
    await receiver.stop();
  });

  /** The spans of the run's trace once the projection's apply of RunCompleted has been exported. */
  const runTrace = async (): Promise<CollectedSpan[]> =>
    eventually(
      'the run trace to hold the gateway request, the worker run and the projection apply of RunCompleted',
      () => Promise.resolve(receiver.spans.filter((s) => s.traceId === final.traceId)),
      (spans) =>
        spans.some((s) => s.service === 'gateway' && s.kind === SPAN_KIND.server) &&
        spans.some((s) => s.service === 'engine-worker' && s.name === SPANS.worker.run) &&
        spans.some(
          (s) =>
            s.name === SPANS.projection.apply &&
            s.attributes[ATTRS.runId] === runId &&
            String(s.attributes[ATTRS.eventTypes]).includes('RunCompleted'),
        ),
      { timeoutMs: 20_000, intervalMs: 100 },
    );

  it('stores the trace id of the request on the run and returns it in the status', () => {
    expect(final.traceId).toMatch(/^[0-9a-f]{32}$/);
  });

  it('links gateway, worker events and projection spans of the run into one trace rooted at the request', async () => {
    const spans = await runTrace();
    const byId = new Map(spans.map((s) => [s.spanId, s]));
    const ancestors = (s: CollectedSpan): CollectedSpan[] => {
      const out: CollectedSpan[] = [];
      for (let p = byId.get(s.parentSpanId); p; p = byId.get(p.parentSpanId)) out.push(p);
      return out;
    };

    // One root: the gateway's HTTP server span of the POST (official http instrumentation).
    const roots = spans.filter((s) => s.parentSpanId === '');
    expect(roots).toHaveLength(1);
    const root = roots[0] as CollectedSpan;
    expect(root).toMatchObject({ service: 'gateway', kind: SPAN_KIND.server });
    expect(root.attributes['http.request.method'] ?? root.attributes['http.method']).toBe('POST');
    // Every span's parent is in the trace: no dangling links across the services.
    for (const s of spans) if (s !== root) expect(byId.has(s.parentSpanId)).toBe(true);

    // The Nest handler span (official nestjs-core instrumentation) sits between request and publish.
    const requested = spans.find((s) => s.name === SPANS.publish && s.attributes[ATTRS.eventType] === 'RunRequested');
    expect(requested).toMatchObject({ service: 'gateway', kind: SPAN_KIND.producer });
    expect(requested?.attributes[ATTRS.runId]).toBe(runId);
    const chain = ancestors(requested as CollectedSpan);
    expect(chain[chain.length - 1]).toBe(root);
    expect(
      chain.some((s) => s.attributes['nestjs.type'] !== undefined || /SubmitBacktestController/.test(s.name)),
    ).toBe(true);

    // The worker's events are published in the run's trace (their traceparent came from RunRequested).
    const workerPublishes = spans.filter((s) => s.service === 'engine-worker' && s.name === SPANS.publish);
    const workerTypes = workerPublishes.map((s) => s.attributes[ATTRS.eventType]);
    expect(workerTypes).toEqual(expect.arrayContaining(['RunStarted', 'RunCompleted']));
    for (const s of workerPublishes) expect(ancestors(s)).toContain(requested);

    // The projection applies the run's events in spans of the same trace, children of the publishes.
    const applies = spans.filter((s) => s.service === 'projection' && s.name === SPANS.projection.apply);
    expect(applies.length).toBeGreaterThan(0);
    for (const a of applies) {
      expect(a.kind).toBe(SPAN_KIND.consumer);
      expect(a.attributes[ATTRS.runId]).toBe(runId);
      expect(byId.get(a.parentSpanId)?.name).toBe(SPANS.publish);
      // …and linked to the batch span (its own trace) under which the transaction's pg spans run.
      expect(a.links.length).toBe(1);
    }
    const appliedTypes = applies.flatMap((a) => String(a.attributes[ATTRS.eventTypes]).split(','));
    expect(appliedTypes).toEqual(expect.arrayContaining(['RunRequested', 'RunStarted', 'RunCompleted']));
  });

  it('runs the projection transaction under a batch span holding pg spans (official pg instrumentation)', async () => {
    const spans = await runTrace();
    const apply = spans.find((s) => s.name === SPANS.projection.apply) as CollectedSpan;
    const link = apply.links[0] as { traceId: string; spanId: string };
    const batch = await eventually(
      'the batch span and its pg spans to be exported',
      () => Promise.resolve(receiver.spans.filter((s) => s.traceId === link.traceId)),
      (ss) =>
        ss.some((s) => s.spanId === link.spanId) &&
        ss.some((s) => s.attributes['db.system'] === 'postgresql' || s.attributes['db.system.name'] === 'postgresql'),
      { timeoutMs: 10_000, intervalMs: 100 },
    );
    const batchSpan = batch.find((s) => s.spanId === link.spanId);
    expect(batchSpan).toMatchObject({ service: 'projection', name: SPANS.projection.batch, parentSpanId: '' });
    expect(batch.filter((s) => s.name !== SPANS.projection.batch).every((s) => s.service === 'projection')).toBe(true);
  });

  it('writes structured JSON logs carrying the trace id of the request', async () => {
    const line = await eventually(
      'a gateway log line with the run trace id',
      () =>
        Promise.resolve(
          sys.gateway.output
            .join('')
            .split('\n')
            .filter((l) => l.startsWith('{'))
            .map((l) => JSON.parse(l) as Record<string, unknown>)
            .find((l) => l.trace_id === final.traceId),
        ),
      (l) => l !== undefined,
      { timeoutMs: 5_000 },
    );
    expect(line).toMatchObject({
      service: 'gateway',
      trace_id: final.traceId,
      span_id: expect.stringMatching(/^[0-9a-f]{16}$/),
    });
  });

  it('has the worker run span as the parent of the worker events', async () => {
    const spans = await runTrace();
    const requested = spans.find((s) => s.name === SPANS.publish && s.attributes[ATTRS.eventType] === 'RunRequested');
    const run = spans.find((s) => s.service === 'engine-worker' && s.name === SPANS.worker.run);
    expect(run).toBeDefined();
    // The parent is the gateway span whose context travelled with the work message: the RunRequested
    // publish (work taken from RUNS) or the request span that dispatched it (a dispatch subject).
    const parent = spans.find((s) => s.spanId === run?.parentSpanId);
    const requestChain: CollectedSpan[] = [];
    for (let s = requested; s; s = spans.find((x) => x.spanId === s?.parentSpanId)) requestChain.push(s);
    expect(parent?.service).toBe('gateway');
    expect(requestChain).toContain(parent);
    expect(run?.attributes).toMatchObject({
      [ATTRS.runId]: runId,
      [ATTRS.runKind]: 'backtest',
      [ATTRS.strategy]: 'sma-crossover',
      [ATTRS.attempt]: 1,
      [ATTRS.bars]: 50_000,
    });
    const completed = spans.find(
      (s) => s.service === 'engine-worker' && s.attributes[ATTRS.eventType] === 'RunCompleted',
    );
    expect(completed?.parentSpanId).toBe(run?.spanId);
  });

  it('moves the run, event and projection counters with the run, on each service’s /metrics', async () => {
    const b = before as Record<ServiceName, string>;
    const projection = await eventually(
      'the projection counters to count the completed run',
      () => scrape('projection'),
      (t) =>
        (sample(t, 'runforge_runs_completed_total', { kind: 'backtest' }) ?? 0) >
        (sample(b.projection, 'runforge_runs_completed_total', { kind: 'backtest' }) ?? 0),
      { timeoutMs: 10_000, intervalMs: 100 },
    );
    const delta = (name: string, labels: Record<string, string> = {}): number =>
      (sample(projection, name, labels) ?? 0) - (sample(b.projection, name, labels) ?? 0);
    expect(
      delta('runforge_runs_requested_total', { kind: 'backtest', triggered_by: 'api', service: 'projection' }),
    ).toBe(1);
    expect(delta('runforge_runs_started_total', { kind: 'backtest' })).toBe(1);
    expect(delta('runforge_runs_completed_total', { kind: 'backtest' })).toBe(1);
    expect(delta('runforge_runs_failed_total')).toBe(0);
    expect(delta('runforge_run_duration_seconds_count', { kind: 'backtest', status: 'Completed' })).toBe(1);
    expect(delta('runforge_projection_events_applied_total', { type: 'RunRequested' })).toBe(1);
    // A 50,000-bar run ends before its first progress tick: it records no BarProgressed.
    expect(delta('runforge_projection_events_applied_total', { type: 'RunStarted' })).toBe(1);
    expect(delta('runforge_projection_events_applied_total', { type: 'BarProgressed' })).toBe(0);
    expect(sample(projection, 'runforge_projection_lag_messages')).toBeGreaterThanOrEqual(0);
    expect(sample(projection, 'runforge_projection_applied_seq')).toBeGreaterThan(0);
    expect(sample(projection, 'runforge_consumer_pending_messages', { consumer: 'engine-normal' })).toBe(0);
    expect(sample(projection, 'process_cpu_user_seconds_total')).toBeGreaterThan(0);

    const gateway = await scrape('gateway');
    const published = (t: string, type: string): number => sample(t, 'runforge_events_published_total', { type }) ?? 0;
    expect(published(gateway, 'RunRequested') - published(b.gateway, 'RunRequested')).toBe(1);
    const worker = await scrape('engine-worker');
    expect(published(worker, 'RunCompleted') - published(b['engine-worker'], 'RunCompleted')).toBe(1);
    const bars = (t: string): number => sample(t, 'runforge_worker_bars_processed_total', { kind: 'backtest' }) ?? 0;
    expect(bars(worker) - bars(b['engine-worker'])).toBe(50_000);
  });

  it('records a failed trial as an error on its trial span, under the trial batch and run spans', async () => {
    const submitted = await http<{ id: string }>(sys.gateway.url, 'POST', '/api/optimizations', {
      strategy: 'sma-crossover',
      axes: { fast: [5, 40], slow: [20] },
      dataset: { synthetic: { bars: 5_000, seed: 3, timeframe: '1h' } },
    });
    expect(submitted.status).toBe(202);
    const done = await eventually(
      'the traced optimization to complete',
      async () => (await http<Status>(sys.gateway.url, 'GET', `/api/optimizations/${submitted.body.id}/status`)).body,
      (s) => s.status === 'Completed' || s.status === 'Failed',
      { timeoutMs: 60_000, intervalMs: 50 },
    );
    // Successful trials are counted on their batch span; the failed one has its own ERROR span.
    const trials = await eventually(
      'the failed trial span to be exported',
      () => Promise.resolve(receiver.spans.filter((s) => s.traceId === done.traceId && s.name === SPANS.worker.trial)),
      (spans) => spans.length >= 1,
      { timeoutMs: 20_000, intervalMs: 100 },
    );
    expect(trials).toHaveLength(1);
    const failed = trials[0];
    expect(failed?.attributes[ATTRS.trialIndex]).toBe(1);
    expect(failed?.status).toMatchObject({
      code: 2,
      message: expect.stringMatching(/fast \(40\) must be less than slow \(20\)/),
    });
    expect(failed?.events.map((e) => e.name)).toContain('exception');
    const byId = new Map(receiver.spans.map((s) => [s.spanId, s]));
    const batch = byId.get(failed?.parentSpanId ?? '');
    expect(batch?.name).toBe(SPANS.worker.trialBatch);
    const run = byId.get(batch?.parentSpanId ?? '');
    expect(run?.name).toBe(SPANS.worker.run);
  });
});
