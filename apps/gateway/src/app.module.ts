import { Module, type DynamicModule } from '@nestjs/common';
import { APP_GUARD } from '@nestjs/core';
import { DataSource } from 'typeorm';
import { PlatformModule, type RunForgeConfig } from '@runforge/service';
import { readModelsModule } from '@runforge/read-models';
import { SubmitBacktestController } from './backtests/submit-backtest/submit-backtest.controller';
import { BacktestStatusController } from './backtests/backtest-status/backtest-status.controller';
import { ListStrategiesController } from './strategies/list-strategies.controller';
import { SchedulesController } from './schedules/manage-schedules/schedules.controller';
import { TriggerScheduleController } from './schedules/trigger-schedule/trigger-schedule.controller';
import { ScheduleStore } from './schedules/schedule-store.service';
import { ScheduleChanges } from './schedules/schedule-changes.service';
import { SubmitOptimizationController } from './optimizations/submit-optimization/submit-optimization.controller';
import { OptimizationStatusController } from './optimizations/optimization-status/optimization-status.controller';
import { ListTrialsController } from './runs/list-trials/list-trials.controller';
import { CancelRunController } from './runs/cancel-run/cancel-run.controller';
import { RetryRunController } from './runs/retry-run/retry-run.controller';
import { DatasetsController } from './datasets/datasets.controller';
import { JsonBodiesOnly } from './common/json-bodies.hook';
import { TextIntegrity } from './common/text-integrity.hook';
import { NatsAvailability } from './common/nats-availability.hook';
import { CsvBodyParser } from './datasets/csv-body.parser';
import { ApiDocsController } from './docs/api-docs.controller';
import { IdempotentSubmission } from './runs/submission/idempotent-submission.service';
import { RunStreamController } from './runs/run-stream/run-stream.controller';
import { RunChangesController } from './runs/run-stream/run-changes.controller';
import { DashboardConfigController } from './web/dashboard-config.controller';
import { RunsReadModule } from './runs/runs-read.module';
import { ListKindsController } from './kinds/list-kinds.controller';
import { EnergySourcesController } from './energy/energy-sources.controller';
import { SubmitRunController } from './runs/submit-run/submit-run.controller';
import { RunWindowGuard } from './runs/submission/run-window.guard';
import { AccessGuard } from './auth/access.guard';
import { ApiKeyStore } from './auth/api-key-store';
import { Authenticator } from './auth/authenticator.service';
import { OidcTokens } from './auth/oidc-tokens';
import { BootstrapAdminKey } from './auth/bootstrap-admin-key.service';
import { KeysController } from './auth/manage-keys/keys.controller';
import { WhoAmIController } from './auth/whoami.controller';
import { AuthConfigController } from './auth/auth-config.controller';

@Module({})
export class GatewayAppModule {
  static forRoot(cfg: RunForgeConfig): DynamicModule {
    return {
      module: GatewayAppModule,
      imports: [PlatformModule.forRoot(cfg.service, cfg), readModelsModule(cfg), RunsReadModule],
      controllers: [
        ListKindsController,
        EnergySourcesController,
        SubmitRunController,
        SubmitBacktestController,
        BacktestStatusController,
        ListStrategiesController,
        SubmitOptimizationController,
        OptimizationStatusController,
        ListTrialsController,
        CancelRunController,
        RetryRunController,
        DatasetsController,
        ApiDocsController,
        RunStreamController,
        RunChangesController,
        DashboardConfigController,
        SchedulesController,
        TriggerScheduleController,
        KeysController,
        WhoAmIController,
        AuthConfigController,
      ],
      providers: [
        CsvBodyParser,
        JsonBodiesOnly,
        TextIntegrity,
        NatsAvailability,
        IdempotentSubmission,
        RunWindowGuard,
        ScheduleStore,
        ScheduleChanges,
        { provide: ApiKeyStore, useFactory: (db: DataSource) => new ApiKeyStore(db), inject: [DataSource] },
        Authenticator,
        OidcTokens,
        BootstrapAdminKey,
        // Every route, this module's and the platform's (health, metrics), passes the access guard.
        { provide: APP_GUARD, useClass: AccessGuard },
      ],
    };
  }
}
