import { readFileSync } from 'node:fs';
import { connect } from '@nats-io/transport-node';
import type { Authenticator, NatsConnection } from '@nats-io/nats-core';
import { credsAuthenticator, nanos, nkeyAuthenticator } from '@nats-io/nats-core';
import {
  AckPolicy,
  DeliverPolicy,
  JetStreamApiError,
  jetstreamManager,
  RetentionPolicy,
  StorageType,
  type JetStreamManager,
  type StreamConfig,
} from '@nats-io/jetstream';
import {
  CONSUMER_SETTINGS,
  RUNS_STREAM_SETTINGS,
  SCHEDULES_STREAM_SETTINGS,
  WORK_STREAM_SETTINGS,
  type ConsumerSpec,
  type StreamSpec,
  type Topology,
} from '@runforge/contracts';
import { inboxPrefix, type NatsIdentity } from './permissions';

/**
 * The servers of a NATS_URL: one URL, or several comma-separated (the nodes of a cluster, any of
 * which the client may connect to first and fail over to).
 */
export function natsServers(url: string): string[] {
  return url
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
}

/**
 * The credentials of this process, from the environment (none: a server without authentication):
 * `NATS_NKEY_SEED_FILE` (a file holding an nkey seed, `SU…`, as `npm start` and docker compose
 * hand each service), `NATS_NKEY_SEED` (the seed itself), `NATS_CREDS` (a creds file, for servers
 * in operator/JWT mode), or `NATS_USER` + `NATS_PASSWORD`.
 */
export function natsCredentials(
  env: NodeJS.ProcessEnv = process.env,
): { authenticator: Authenticator } | { user: string; pass: string } | Record<string, never> {
  const seedFile = env.NATS_NKEY_SEED_FILE;
  const seed = seedFile ? readFileSync(seedFile, 'utf8').trim() : env.NATS_NKEY_SEED?.trim();
  if (seed) return { authenticator: nkeyAuthenticator(new TextEncoder().encode(seed)) };
  if (env.NATS_CREDS) return { authenticator: credsAuthenticator(readFileSync(env.NATS_CREDS)) };
  if (env.NATS_USER) return { user: env.NATS_USER, pass: env.NATS_PASSWORD ?? '' };
  return {};
}

/**
 * `identity`: the NATS user this process is (`natsPermissions`); its replies come under its own
 * inbox prefix, the only inboxes its user may subscribe to.
 */
export async function connectNats(
  url: string,
  name: string,
  identity?: NatsIdentity,
  env: NodeJS.ProcessEnv = process.env,
): Promise<NatsConnection> {
  // noAsyncTraces: a request (every JetStream publish is one) would otherwise build an Error to keep
  // the caller's stack for a timeout message; with one event per trial that cost showed in profiles.
  return connect({
    servers: natsServers(url),
    name,
    maxReconnectAttempts: -1,
    reconnectTimeWait: 500,
    noAsyncTraces: true,
    ...(identity ? { inboxPrefix: inboxPrefix(identity) } : {}),
    ...natsCredentials(env),
  });
}

type StreamSettings = typeof RUNS_STREAM_SETTINGS | typeof WORK_STREAM_SETTINGS | typeof SCHEDULES_STREAM_SETTINGS;

function streamConfig(spec: StreamSpec, s: StreamSettings): Partial<StreamConfig> & { name: string } {
  return {
    name: spec.name,
    subjects: [...spec.subjects],
    storage: s.storage === 'file' ? StorageType.File : StorageType.Memory,
    retention: s.retention === 'workqueue' ? RetentionPolicy.Workqueue : RetentionPolicy.Limits,
    max_age: nanos(s.maxAgeSeconds * 1000),
    duplicate_window: nanos(s.duplicateWindowSeconds * 1000),
    num_replicas: Number(process.env.NATS_STREAM_REPLICAS ?? 1),
  };
}

const STREAM_NOT_FOUND = 10059;
const CONSUMER_NOT_FOUND = 10014;

function isApiError(err: unknown, code: number): boolean {
  return err instanceof JetStreamApiError && err.code === code;
}

async function ensureStream(jsm: JetStreamManager, cfg: Partial<StreamConfig> & { name: string }): Promise<void> {
  try {
    const info = await jsm.streams.info(cfg.name);
    const same =
      JSON.stringify([...info.config.subjects].sort()) === JSON.stringify([...(cfg.subjects ?? [])].sort()) &&
      info.config.duplicate_window === cfg.duplicate_window &&
      info.config.max_age === cfg.max_age;
    if (!same) await jsm.streams.update(cfg.name, { ...info.config, ...cfg });
  } catch (err) {
    if (!isApiError(err, STREAM_NOT_FOUND)) throw err;
    try {
      await jsm.streams.add(cfg);
    } catch (addErr) {
      // Another service won the race to create it: fine, the config is the same.
      if (!(addErr instanceof JetStreamApiError)) throw addErr;
      await jsm.streams.info(cfg.name);
    }
  }
}

export async function ensureConsumer(
  jsm: JetStreamManager,
  spec: ConsumerSpec,
  s: { ackWaitSeconds: number; maxDeliver: number; maxAckPending: number },
  deliverPolicy: DeliverPolicy,
): Promise<void> {
  const cfg = {
    durable_name: spec.durable,
    ack_policy: AckPolicy.Explicit,
    deliver_policy: deliverPolicy,
    filter_subject: spec.filterSubject,
    ack_wait: nanos(s.ackWaitSeconds * 1000),
    max_deliver: s.maxDeliver,
    max_ack_pending: s.maxAckPending,
  };
  try {
    const info = await jsm.consumers.info(spec.stream, spec.durable);
    if (
      info.config.ack_wait !== cfg.ack_wait ||
      info.config.max_deliver !== cfg.max_deliver ||
      info.config.max_ack_pending !== cfg.max_ack_pending
    ) {
      await jsm.consumers.update(spec.stream, spec.durable, {
        ack_wait: cfg.ack_wait,
        max_deliver: cfg.max_deliver,
        max_ack_pending: cfg.max_ack_pending,
      });
    }
  } catch (err) {
    if (!isApiError(err, CONSUMER_NOT_FOUND)) throw err;
    await jsm.consumers.add(spec.stream, cfg);
  }
}

/**
 * Creates or updates the streams and durable consumers of the topology. Every service calls it at
 * start; it is idempotent and safe to race.
 */
export async function provisionTopology(nc: NatsConnection, t: Topology): Promise<JetStreamManager> {
  const jsm = await jetstreamManager(nc);
  await ensureStream(jsm, streamConfig(t.streams.runs, RUNS_STREAM_SETTINGS));
  await ensureStream(jsm, streamConfig(t.streams.work, WORK_STREAM_SETTINGS));
  await ensureStream(jsm, streamConfig(t.streams.schedules, SCHEDULES_STREAM_SETTINGS));
  await ensureConsumer(jsm, t.consumers.engineHigh, CONSUMER_SETTINGS.engine, DeliverPolicy.All);
  await ensureConsumer(jsm, t.consumers.engineNormal, CONSUMER_SETTINGS.engine, DeliverPolicy.All);
  await ensureConsumer(jsm, t.consumers.trials, CONSUMER_SETTINGS.trials, DeliverPolicy.All);
  // Changes made before the first scheduler started are in Postgres already: only new ones cue it.
  await ensureConsumer(jsm, t.consumers.scheduler, CONSUMER_SETTINGS.scheduler, DeliverPolicy.New);
  return jsm;
}

/** Readiness: the streams of the topology exist. */
export async function topologyProvisioned(jsm: JetStreamManager, t: Topology): Promise<boolean> {
  try {
    await jsm.streams.info(t.streams.runs.name);
    await jsm.streams.info(t.streams.work.name);
    return true;
  } catch {
    return false;
  }
}
