import {
  Controller,
  Get,
  HttpException,
  HttpStatus,
  Inject,
  Logger,
  Module,
  type DynamicModule,
  type OnApplicationShutdown,
  Injectable,
  Optional,
} from '@nestjs/common';
import { LoggerModule } from 'nestjs-pino';
import { DataSource } from 'typeorm';
import { loadConfig, type RunForgeConfig } from './config';
import {
  connectNats,
  JetStreamClient,
  NATS_IDENTITIES,
  type NatsIdentity,
  provisionTopology,
  retryWhileUnavailable,
  StreamReader,
  topologyProvisioned,
} from '@runforge/messaging';
import { Messaging, RUNFORGE_CONFIG } from './tokens';
import { CpuProfile } from './cpu-profile';
import { DatasetStore, EnergyPositions, EnergySourceStore } from '@runforge/datasets';
import { loggerOptions } from './logging';
import { MetricsController } from './metrics.controller';
import { Public } from './access';
import { bindJetStreamMetrics, setMetricsService, shutdownTelemetry } from '@runforge/telemetry';

@Injectable()
class MessagingLifecycle implements OnApplicationShutdown {
  constructor(private readonly messaging: Messaging) {}
  async onApplicationShutdown(): Promise<void> {
    await this.messaging.nc.drain().catch(() => this.messaging.nc.close());
  }
}

/**
 * Optional provider (from a @Global module of the service) whose fields are added to the
 * `/health/ready` body, e.g. the projection's `lag`, and whose `readinessChecks` (answered from
 * memory: readiness must answer at once) join the checks that decide readiness, e.g. the
 * projection's `progressing`.
 */
export const READINESS_DETAILS = Symbol('READINESS_DETAILS');
export interface ReadinessDetails {
  readinessDetails(): Promise<Record<string, unknown>>;
  readinessChecks?(): Record<string, boolean>;
}

/** True when `check` resolves within `ms`, false when it rejects or takes longer. */
function withinMs(check: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(false), ms)));
  return Promise.race([
    check.then(
      () => true,
      () => false,
    ),
    late,
  ]).finally(() => clearTimeout(timer));
}

/** Flushes the last spans on shutdown (after the app's own shutdown hooks ran). */
@Injectable()
class TelemetryLifecycle implements OnApplicationShutdown {
  async onApplicationShutdown(): Promise<void> {
    await shutdownTelemetry();
  }
}

/** Open: orchestrators probe it without credentials (it says up or not, nothing more). */
@Public()
@Controller('health')
class HealthController {
  constructor(
    private readonly messaging: Messaging,
    @Inject(RUNFORGE_CONFIG) private readonly cfg: RunForgeConfig,
    @Optional() private readonly dataSource?: DataSource,
    @Optional() @Inject(READINESS_DETAILS) private readonly details?: ReadinessDetails,
  ) {}

  @Get('live')
  live(): { status: 'ok'; service: string } {
    return { status: 'ok', service: this.cfg.service };
  }

  @Get('ready')
  async ready(): Promise<{ status: 'ready'; checks: Record<string, boolean> } & Record<string, unknown>> {
    // While NATS is down, readiness answers at once (the streams are not asked: that request would wait
    // out its timeout). Each check that asks a server counts as failed after HEALTH_CHECK_TIMEOUT_MS:
    // a hung server is down.
    const natsUp = this.messaging.connected() && this.messaging.nc.info !== undefined;
    const bounded = (check: Promise<unknown>): Promise<boolean> => withinMs(check, this.cfg.healthCheckTimeoutMs);
    const [streams, postgres] = await Promise.all([
      natsUp
        ? bounded(
            topologyProvisioned(this.messaging.jsm, this.cfg.topology).then((ok) => {
              if (!ok) throw new Error('streams not provisioned');
            }),
          )
        : false,
      this.dataSource ? bounded(this.dataSource.query('SELECT 1')) : undefined,
    ]);
    const checks: Record<string, boolean> = { nats: natsUp, streams };
    if (postgres !== undefined) checks.postgres = postgres;
    const infrastructureUp = Object.values(checks).every((ok) => ok);
    Object.assign(checks, this.details?.readinessChecks?.());
    // The details ask NATS and Postgres: only while they answer.
    let extra: Record<string, unknown> = {};
    if (infrastructureUp && this.details) {
      const details = this.details.readinessDetails().then((d) => (extra = d));
      await withinMs(details, this.cfg.healthCheckTimeoutMs);
    }
    if (Object.values(checks).some((ok) => !ok)) {
      throw new HttpException({ ...extra, status: 'not-ready', checks }, HttpStatus.SERVICE_UNAVAILABLE);
    }
    return { ...extra, status: 'ready', checks };
  }
}

const startLog = new Logger('Bootstrap');

/** A start-up request to NATS, retried while NATS does not answer (a cluster electing a leader). */
function atStart<T>(what: string, fn: () => Promise<T>): Promise<T> {
  return retryWhileUnavailable(what, fn, {
    onRetry: (_what, attempt, err) =>
      startLog.warn(`NATS did not answer for ${what} (attempt ${attempt}: ${(err as Error).message}); retrying`),
  });
}

/**
 * Shared shell of every service: configuration, logging, the NATS connection with its streams and
 * consumers provisioned, and health endpoints.
 */
@Module({})
export class PlatformModule {
  static forRoot(service: string, cfg: RunForgeConfig = loadConfig(service)): DynamicModule {
    return {
      module: PlatformModule,
      global: true,
      imports: [LoggerModule.forRoot(loggerOptions(service))],
      controllers: [HealthController, MetricsController],
      providers: [
        { provide: RUNFORGE_CONFIG, useValue: cfg },
        {
          provide: Messaging,
          useFactory: async (): Promise<Messaging> => {
            const identity = NATS_IDENTITIES.find((i): i is NatsIdentity => i === cfg.service);
            const nc = await connectNats(cfg.natsUrl, cfg.instanceId, identity);
            const jsm = await atStart('the streams and consumers', () => provisionTopology(nc, cfg.topology));
            setMetricsService(cfg.service);
            bindJetStreamMetrics(jsm, cfg.topology);
            let up = true;
            void (async () => {
              for await (const s of nc.status()) {
                if (s.type === 'disconnect' || s.type === 'reconnecting') up = false;
                else if (s.type === 'reconnect') up = true;
              }
            })();
            return {
              nc,
              jsm,
              client: new JetStreamClient(nc, cfg.topology, cfg.natsRequestTimeoutMs),
              reader: new StreamReader(nc, jsm, cfg.topology),
              connected: () => up && !nc.isClosed(),
            };
          },
        },
        {
          // Uploaded datasets (JetStream object store), shared by the gateway, workers and scheduler.
          provide: DatasetStore,
          inject: [Messaging],
          useFactory: (m: Messaging): Promise<DatasetStore> =>
            atStart('the datasets bucket', () => DatasetStore.open(m.nc, cfg.topology)),
        },
        {
          // The energy models' data sources and the committed day-ahead positions.
          provide: EnergySourceStore,
          inject: [Messaging],
          useFactory: (m: Messaging): Promise<EnergySourceStore> =>
            atStart('the energy sources bucket', () => EnergySourceStore.open(m.nc, cfg.topology)),
        },
        {
          provide: EnergyPositions,
          inject: [Messaging],
          useFactory: (m: Messaging): Promise<EnergyPositions> =>
            atStart('the energy positions bucket', () => EnergyPositions.open(m.nc, cfg.topology)),
        },
        { provide: JetStreamClient, inject: [Messaging], useFactory: (m: Messaging) => m.client },
        { provide: StreamReader, inject: [Messaging], useFactory: (m: Messaging) => m.reader },
        MessagingLifecycle,
        TelemetryLifecycle,
        CpuProfile,
      ],
      exports: [
        RUNFORGE_CONFIG,
        Messaging,
        JetStreamClient,
        StreamReader,
        DatasetStore,
        EnergySourceStore,
        EnergyPositions,
      ],
    };
  }
}
