import 'reflect-metadata';
import { AckPolicy, DeliverPolicy, type JetStreamManager } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/nats-core';
import { PATTERN_EXTRAS_METADATA } from '@nestjs/microservices/constants';
import { EVENTS, eventDefinition, topology, type RunEventType, type Topology } from '@runforge/contracts';
import { connectNats, isJetStreamBinding, provisionTopology } from '@runforge/messaging';
import { RunsProjectionController } from '../../apps/projection/src/runs/runs-projection.controller';
import { cleanupIsolation, NATS_URL, newIsolation, ROOT, type Isolation } from '../support/system';
import {
  documentedFiles,
  extractNatsCommands,
  knownSubjects,
  namesOf,
  sampleSubject,
  subjectCovers,
  subjectsIntersect,
  wildcardSubject,
  type DocCommand,
  type DocName,
} from './nats-recipes';

/**
 * Every `nats …` recipe of the operator docs and READMEs names streams, consumers and subjects that
 * exist. The docs use the default namespace (`RUNS`, `runs.<runId>.<event>`); the test provisions a
 * namespace of its own (`RUNS_<ns>`, `<ns>.runs.…`), so each documented name must be what
 * `topology('')` names, and its namespaced twin must really be on the server.
 */

/**
 * Events still readable but no longer written (workers publish `TrialCompleted` / `TrialFailed` per
 * trial since the JetStream transport): a live `nats sub` on one of these never sees a message.
 */
const NO_LONGER_WRITTEN: readonly RunEventType[] = ['TrialsRecorded'];
const LEGACY_TOKENS = new Set(NO_LONGER_WRITTEN.map((type) => eventDefinition(type).token));
const EVENT_TOKENS = EVENTS.map((d) => d.token);
const DOCUMENTED = topology('');

type StreamKey = keyof Topology['streams'];
type ConsumerKey = keyof Topology['consumers'];

const streamKey = (name: string): StreamKey | undefined =>
  (Object.keys(DOCUMENTED.streams) as StreamKey[]).find((k) => DOCUMENTED.streams[k].name === name);

function label(n: DocName): string {
  switch (n.kind) {
    case 'stream':
      return `stream "${n.name}"`;
    case 'consumer':
      return `consumer "${n.name}" on ${n.stream}`;
    case 'subject':
      return `subject "${n.subject}"${n.stream ? ` of ${n.stream}` : ''}`;
    case 'bucket':
      return `${n.store} bucket "${n.name}"`;
  }
}

describe('NATS CLI recipes in the docs (real NATS, provisioned topology)', () => {
  const commands: DocCommand[] = documentedFiles(ROOT).flatMap(({ file, text }) => extractNatsCommands(file, text));
  let iso: Isolation;
  let nc: NatsConnection;
  let jsm: JetStreamManager;

  beforeAll(async () => {
    iso = newIsolation();
    nc = await connectNats(NATS_URL, 'docs-nats-recipes-int');
    jsm = await provisionTopology(nc, iso.topology);
    // The projection's durable is not made by provisionTopology: the projection's transport creates
    // it at start (BatchRunner.consumeFromCheckpoint) from the consumer its controller is bound to.
    // Read that binding from the controller itself and create the durable as the transport does,
    // rather than start the process (a Postgres schema, migrations and a service on a shared box).
    const handler = Object.getOwnPropertyDescriptor(RunsProjectionController.prototype, 'apply')?.value as object;
    const extras: unknown = Reflect.getMetadata(PATTERN_EXTRAS_METADATA, handler);
    if (!isJetStreamBinding(extras) || extras.kind !== 'batch')
      throw new Error('the projection controller lost its batch binding');
    const spec = iso.topology.consumers[extras.consumer];
    await jsm.consumers.add(spec.stream, {
      durable_name: spec.durable,
      filter_subject: spec.filterSubject,
      ack_policy: AckPolicy.Explicit,
      deliver_policy: DeliverPolicy.All,
    });
  });

  afterAll(async () => {
    await nc?.close();
    if (iso) await cleanupIsolation(iso);
  });

  /** Why a documented name is wrong, or undefined when it exists. */
  async function problemWith(n: DocName): Promise<string | undefined> {
    switch (n.kind) {
      case 'stream': {
        const key = streamKey(n.name);
        if (!key)
          return `no such stream; the topology has ${Object.values(DOCUMENTED.streams)
            .map((s) => s.name)
            .join(', ')}`;
        const real = iso.topology.streams[key].name;
        return jsm.streams.info(real).then(
          () => undefined,
          (err: unknown) => `its namespaced twin ${real} is not on the server after provisioning: ${String(err)}`,
        );
      }
      case 'consumer': {
        const keys = Object.keys(DOCUMENTED.consumers) as ConsumerKey[];
        const key = keys.find(
          (k) => DOCUMENTED.consumers[k].stream === n.stream && DOCUMENTED.consumers[k].durable === n.name,
        );
        if (!key) {
          const onStream = keys
            .filter((k) => DOCUMENTED.consumers[k].stream === n.stream)
            .map((k) => DOCUMENTED.consumers[k].durable);
          return `no such consumer; ${n.stream} has ${onStream.join(', ') || 'none'}`;
        }
        const spec = iso.topology.consumers[key];
        try {
          const info = await jsm.consumers.info(spec.stream, spec.durable);
          if (info.config.filter_subject !== spec.filterSubject) {
            return `on the server it filters ${info.config.filter_subject ?? '(nothing)'}, not ${spec.filterSubject}`;
          }
          return undefined;
        } catch (err) {
          return `its namespaced twin ${spec.stream} > ${spec.durable} is not on the server: ${String(err)}`;
        }
      }
      case 'subject': {
        const wildcard = wildcardSubject(n.subject);
        if (wildcard === undefined)
          return 'not a subject (an empty token, a partial placeholder or `>` before the end)';
        const key = n.stream === undefined ? undefined : streamKey(n.stream);
        if (n.stream !== undefined && key === undefined) return undefined; // the stream itself is reported
        const candidates = knownSubjects(DOCUMENTED, EVENT_TOKENS).filter(
          (k) => (key === undefined || k.stream === key) && subjectsIntersect(wildcard, k.pattern),
        );
        if (candidates.length === 0) {
          return `matches no subject the topology uses${n.stream ? ` on ${n.stream}` : ''} (runs.<runId>.<token> with a token of EVENTS: ${EVENT_TOKENS.join(', ')}; work.runs.high|normal; work.trials.<runId>; ctl.runs.<runId>.abort|trials_settled)`;
        }
        if (n.live && candidates.every((k) => k.eventToken !== undefined && LEGACY_TOKENS.has(k.eventToken))) {
          return `only matches ${candidates.map((k) => k.eventToken).join(', ')}, no longer written: a live subscription never sees one`;
        }
        // The namespaced subject, on the server: the stream that stores it (none for core subjects).
        const expected = key ?? candidates.find((k) => k.stream)?.stream;
        const real = `${iso.namespace}.${wildcard}`;
        if (expected !== undefined) {
          const stream = iso.topology.streams[expected].name;
          const filters = (await jsm.streams.info(stream)).config.subjects ?? [];
          if (!filters.some((f) => subjectCovers(f, real)))
            return `${stream} on the server does not store ${real} (${filters.join(', ')})`;
        }
        const found = await jsm.streams.find(sampleSubject(real)).catch(() => undefined);
        const want = expected === undefined ? undefined : iso.topology.streams[expected].name;
        if (found !== want)
          return `the server stores ${sampleSubject(real)} in ${found ?? 'no stream'}, expected ${want ?? 'no stream'}`;
        return undefined;
      }
      case 'bucket': {
        // Buckets are created by the services on first use, not by provisionTopology: names only.
        const bucket = n.store === 'kv' ? DOCUMENTED.idempotencyBucket : DOCUMENTED.datasetBucket;
        return n.name === bucket ? undefined : `no such ${n.store} bucket; the topology's is ${bucket}`;
      }
    }
  }

  it('finds the recipes of docs/operations.md and docs/events.md', () => {
    const files = new Set(commands.map((c) => c.file));
    expect(files).toContain('docs/operations.md');
    expect(files).toContain('docs/events.md');
    expect(commands.length).toBeGreaterThanOrEqual(15);
  });

  it('every stream, consumer and subject they name exists, and live subscriptions name events still written', async () => {
    const problems: string[] = [];
    let checked = 0;
    for (const cmd of commands) {
      const read = namesOf(cmd);
      if ('error' in read) {
        problems.push(`${cmd.file}:${cmd.line}: \`${cmd.text}\`: ${read.error}`);
        continue;
      }
      for (const n of read.names) {
        checked += 1;
        const problem = await problemWith(n);
        if (problem) problems.push(`${cmd.file}:${cmd.line}: unknown ${label(n)} in \`${cmd.text}\`: ${problem}`);
      }
    }
    expect(problems).toEqual([]);
    expect(checked).toBeGreaterThan(commands.length);
  });
});
