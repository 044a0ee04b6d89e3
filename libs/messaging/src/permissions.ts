import { EVENTS, type ConsumerSpec, type RunEventType, type Topology } from '@runforge/contracts';

/**
 * Who connects to NATS: the four services, each as its own user, and `admin` — the operator's
 * tooling (stream provisioning, `npm run verify` / `replay` / `rebuild`, the NATS CLI).
 */
export const NATS_IDENTITIES = ['gateway', 'engine-worker', 'projection', 'scheduler', 'admin'] as const;
export type NatsIdentity = (typeof NATS_IDENTITIES)[number];

export interface SubjectRules {
  readonly allow: readonly string[];
  readonly deny: readonly string[];
}

/** A NATS user's permissions, as nats-server's `authorization.users[].permissions` takes them. */
export interface NatsPermissions {
  readonly publish: SubjectRules;
  readonly subscribe: SubjectRules;
}

/**
 * Each identity's replies (JetStream API answers, pulled messages) arrive under its own inbox
 * prefix, so no service can subscribe to another's inbox and read what was delivered to it.
 */
export function inboxPrefix(identity: NatsIdentity): string {
  return `_INBOX_${identity.replace(/-/g, '_')}`;
}

const API = '$JS.API';

/** The run events a service may append, by type. */
const GATEWAY_EVENTS: readonly RunEventType[] = ['RunRequested', 'RunCancellationRequested'];
const SCHEDULER_EVENTS: readonly RunEventType[] = ['RunRequested', 'RunCancellationRequested'];
/** A worker records a run's execution, never a request: it cannot ask for runs or cancel them. */
const WORKER_EVENTS: readonly RunEventType[] = EVENTS.map((d) => d.type).filter(
  (t) => !GATEWAY_EVENTS.includes(t) && !SCHEDULER_EVENTS.includes(t),
);

function tokenOf(type: RunEventType): string {
  const def = EVENTS.find((d) => d.type === type);
  if (!def) throw new Error(`unknown event type ${type}`);
  return def.token;
}

/** Pulls from and acknowledges one durable consumer. */
function pullFrom(c: ConsumerSpec): string[] {
  return [`${API}.CONSUMER.MSG.NEXT.${c.stream}.${c.durable}`, `$JS.ACK.${c.stream}.${c.durable}.>`];
}

/**
 * Reading a stream through ephemeral (ordered) consumers and direct gets, without touching its
 * durable consumers: those belong to the service that owns them (denied below).
 */
function readStream(stream: string): string[] {
  return [
    `${API}.STREAM.INFO.${stream}`,
    `${API}.STREAM.MSG.GET.${stream}`,
    `${API}.DIRECT.GET.${stream}`,
    `${API}.DIRECT.GET.${stream}.>`,
    `${API}.CONSUMER.CREATE.${stream}`,
    `${API}.CONSUMER.CREATE.${stream}.>`,
    `${API}.CONSUMER.INFO.${stream}.*`,
    `${API}.CONSUMER.MSG.NEXT.${stream}.*`,
    `${API}.CONSUMER.DELETE.${stream}.*`,
  ];
}

/** What nobody but the owner may do with a durable consumer: take its messages or acknowledge them. */
function othersDurable(c: ConsumerSpec): string[] {
  return [`${API}.CONSUMER.MSG.NEXT.${c.stream}.${c.durable}`, `$JS.ACK.${c.stream}.${c.durable}.>`];
}

/** What only the operator does with a durable consumer: create, change or delete it. */
function manageDurable(c: ConsumerSpec): string[] {
  return [
    `${API}.CONSUMER.CREATE.${c.stream}.${c.durable}`,
    `${API}.CONSUMER.CREATE.${c.stream}.${c.durable}.>`,
    `${API}.CONSUMER.DELETE.${c.stream}.${c.durable}`,
  ];
}

const kvStream = (bucket: string): string => `KV_${bucket}`;
const objStream = (bucket: string): string => `OBJ_${bucket}`;

function kvRead(bucket: string): string[] {
  return readStream(kvStream(bucket));
}
function kvWrite(bucket: string): string[] {
  return [...kvRead(bucket), `$KV.${bucket}.>`];
}
function objRead(bucket: string): string[] {
  return readStream(objStream(bucket));
}
/** Writing an object store includes deleting objects, which purges their chunks from its stream. */
function objWrite(bucket: string): string[] {
  return [...objRead(bucket), `$O.${bucket}.>`, `${API}.STREAM.PURGE.${objStream(bucket)}`];
}

/**
 * The permissions of every identity for a namespace's topology, derived from what each service
 * does (docs/security.md, "The services"). Streams, consumers and buckets are created by the
 * operator (`admin`: the provision step of `npm start`, docker compose's `provision`); a service
 * only looks them up at start (INFO) and fails if they are missing.
 */
export function natsPermissions(t: Topology): Record<NatsIdentity, NatsPermissions> {
  const { runs, work, schedules } = t.streams;
  const c = t.consumers;
  const durables = [c.engineHigh, c.engineNormal, c.trials, c.projection, c.scheduler];
  const runEvents = (types: readonly RunEventType[]): string[] => types.map((type) => t.anyRunSubject(tokenOf(type)));

  /** Every service: the JetStream account info, and looking up (never changing) every stream, consumer and bucket. */
  const lookUps = [
    `${API}.INFO`,
    ...[runs, work, schedules].map((s) => `${API}.STREAM.INFO.${s.name}`),
    ...durables.map((d) => `${API}.CONSUMER.INFO.${d.stream}.${d.durable}`),
    ...[t.idempotencyBucket, t.runWindowBucket, t.energyPositionBucket].map((b) => `${API}.STREAM.INFO.${kvStream(b)}`),
    ...[t.datasetBucket, t.energySourceBucket].map((b) => `${API}.STREAM.INFO.${objStream(b)}`),
  ];
  /** Nobody but the operator changes the streams or the durable consumers, purges or deletes them. */
  const neverForServices = [
    ...[runs, work, schedules].flatMap((s) =>
      ['CREATE', 'UPDATE', 'DELETE', 'PURGE', 'MSG.DELETE'].map((op) => `${API}.STREAM.${op}.${s.name}`),
    ),
    `${API}.CONSUMER.DURABLE.CREATE.>`,
  ];
  /**
   * `own`: the durables the service pulls from; `managed`: those it also recreates itself (the
   * projection moves its consumer to its checkpoint in Postgres). Every other durable is the operator's.
   */
  const denyDurables = (own: readonly ConsumerSpec[], managed: readonly ConsumerSpec[]): string[] => [
    ...durables.filter((d) => !own.includes(d)).flatMap(othersDurable),
    ...durables.filter((d) => !managed.includes(d)).flatMap(manageDurable),
  ];

  const service = (
    identity: Exclude<NatsIdentity, 'admin'>,
    publish: readonly string[],
    subscribe: readonly string[],
    ownDurables: readonly ConsumerSpec[],
    managedDurables: readonly ConsumerSpec[] = [],
  ): NatsPermissions => ({
    publish: {
      allow: [...lookUps, ...publish],
      deny: [...neverForServices, ...denyDurables(ownDurables, managedDurables)],
    },
    subscribe: { allow: [`${inboxPrefix(identity)}.>`, ...subscribe], deny: [] },
  });

  return {
    gateway: service(
      'gateway',
      [
        ...runEvents(GATEWAY_EVENTS),
        t.anyRunDispatchSubject(),
        `${schedules.subjects[0]}`,
        ...readStream(runs.name),
        ...kvWrite(t.idempotencyBucket),
        ...kvWrite(t.runWindowBucket),
        ...objWrite(t.datasetBucket),
        ...objWrite(t.energySourceBucket),
      ],
      // Live streams and the cancel's wait: core subscriptions to run events.
      [runs.subjects[0] ?? t.runHistorySubject('*')],
      [],
    ),
    'engine-worker': service(
      'engine-worker',
      [
        ...runEvents(WORKER_EVENTS),
        t.trialWorkSubject('*'),
        t.anyRunAbortSubject(),
        t.anyRunTrialsSettledSubject(),
        ...pullFrom(c.engineHigh),
        ...pullFrom(c.engineNormal),
        ...pullFrom(c.trials),
        ...readStream(runs.name),
        ...kvWrite(t.energyPositionBucket),
        ...objRead(t.datasetBucket),
        ...objRead(t.energySourceBucket),
      ],
      [
        t.anyRunAbortSubject(),
        t.anyRunTrialsSettledSubject(),
        t.anyRunSubject(tokenOf('RunCancellationRequested')),
        t.anyRunDispatchSubject(),
      ],
      [c.engineHigh, c.engineNormal, c.trials],
    ),
    projection: service(
      'projection',
      [...pullFrom(c.projection), ...readStream(runs.name)],
      [],
      [c.projection],
      [c.projection],
    ),
    scheduler: service(
      'scheduler',
      [
        ...runEvents(SCHEDULER_EVENTS),
        t.anyRunDispatchSubject(),
        ...pullFrom(c.scheduler),
        ...readStream(runs.name),
        ...kvWrite(t.runWindowBucket),
        ...objRead(t.datasetBucket),
        ...objRead(t.energySourceBucket),
      ],
      [],
      [c.scheduler],
    ),
    admin: { publish: { allow: ['>'], deny: [] }, subscribe: { allow: ['>'], deny: [] } },
  };
}

export interface NatsServerConfigOptions {
  readonly topology: Topology;
  /** Each identity's nkey public key (`U…`); the seeds stay with the services. */
  readonly users: Readonly<Record<NatsIdentity, string>>;
  readonly host?: string;
  readonly port?: number;
  /** JetStream's store directory. */
  readonly storeDir?: string;
}

/**
 * A whole nats-server configuration (JSON, which nats-server's format accepts): JetStream on, and
 * one nkey user per identity with its permissions. Holds no secret: only public keys.
 */
export function natsServerConfig(opts: NatsServerConfigOptions): string {
  const perms = natsPermissions(opts.topology);
  const rules = (r: SubjectRules): Record<string, readonly string[]> =>
    r.deny.length > 0 ? { allow: r.allow, deny: r.deny } : { allow: r.allow };
  const config = {
    ...(opts.host !== undefined ? { host: opts.host } : {}),
    ...(opts.port !== undefined ? { port: opts.port } : {}),
    jetstream: opts.storeDir !== undefined ? { store_dir: opts.storeDir } : {},
    authorization: {
      users: NATS_IDENTITIES.map((identity) => ({
        nkey: opts.users[identity],
        permissions: { publish: rules(perms[identity].publish), subscribe: rules(perms[identity].subscribe) },
      })),
    },
  };
  return `${JSON.stringify(config, null, 2)}\n`;
}
