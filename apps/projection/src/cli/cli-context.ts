import { jetstream, jetstreamManager, type JetStreamClient, type JetStreamManager } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/nats-core';
import { connectNats, StreamReader } from '@runforge/messaging';
import { loadConfig, type RunForgeConfig } from '@runforge/service';

export interface CliContext {
  readonly cfg: RunForgeConfig;
  readonly nc: NatsConnection;
  readonly js: JetStreamClient;
  readonly jsm: JetStreamManager;
  readonly reader: StreamReader;
  close(): Promise<void>;
}

/** The operator commands read NATS_URL, DATABASE_URL, DB_SCHEMA and RUNFORGE_NAMESPACE like the services. */
export async function openCli(name: string): Promise<CliContext> {
  const cfg = loadConfig('projection');
  const nc = await connectNats(cfg.natsUrl, `${name}-${process.pid}`, 'admin');
  const jsm = await jetstreamManager(nc);
  return {
    cfg,
    nc,
    js: jetstream(nc),
    jsm,
    reader: new StreamReader(nc, jsm, cfg.topology),
    close: () => nc.drain().catch(() => nc.close()),
  };
}

/** Runs a command, printing a failure without a stack for expected errors and exiting non-zero. */
export function runCli(main: () => Promise<number>): void {
  main()
    .then((code) => process.exit(code))
    .catch((err: unknown) => {
      console.error(err instanceof Error ? `error: ${err.message}` : err);
      process.exit(2);
    });
}
