import { DataSource, type DataSourceOptions } from 'typeorm';
import { READ_MODEL_ENTITIES } from './entities';
import { gatewayDatabaseUrl, grantGatewayRole } from './database-roles';
import { InitialReadModels1764057600000 } from './migrations/1764057600000-initial-read-models';
import { RunListingIndexes1764100000000 } from './migrations/1764100000000-run-listing-indexes';
import { Schedules1764633600000 } from './migrations/1764633600000-schedules';
import { RunProgressPace1765000000000 } from './migrations/1765000000000-run-progress-pace';
import { RunProgressPercent1765100000000 } from './migrations/1765100000000-run-progress-percent';
import { RunsByDataSource1765200000000 } from './migrations/1765200000000-runs-by-data-source';
import { RunLogCount1765300000000 } from './migrations/1765300000000-run-log-count';
import { SCHEDULE_ENTITIES } from './schedules.entities';
import { API_KEY_ENTITIES } from './api-keys.entities';
import { ApiKeys1765420000000 } from './migrations/1765420000000-api-keys';
import { RunPrincipal1765420100000 } from './migrations/1765420100000-run-principal';
import { RunResultJson1765500000000 } from './migrations/1765500000000-run-result-json';

/** Where the read models live: the database and the schema (tests use one per run). */
export interface DatabaseSettings {
  readonly databaseUrl: string;
  readonly dbSchema: string;
  /** Names the process's sessions in `pg_stat_activity` (`application_name`); `runforge` otherwise. */
  readonly instanceId?: string;
  /** Opening a connection fails after this long (node-postgres `connectionTimeoutMillis`; 0: never). */
  readonly dbConnectTimeoutMs?: number;
  /** A query fails after this long without an answer (node-postgres `query_timeout`; 0 or unset: never). */
  readonly dbQueryTimeoutMs?: number;
  /**
   * The gateway's connection (`gatewayDatabaseUrl`): the migrate step grants its role the schema.
   * Unset: derived from `databaseUrl` and the environment as the gateway derives it.
   */
  readonly gatewayDatabaseUrl?: string;
}

export const MIGRATIONS = [
  InitialReadModels1764057600000,
  RunListingIndexes1764100000000,
  Schedules1764633600000,
  RunProgressPace1765000000000,
  RunProgressPercent1765100000000,
  RunsByDataSource1765200000000,
  RunLogCount1765300000000,
  ApiKeys1765420000000,
  RunPrincipal1765420100000,
  RunResultJson1765500000000,
];

export function dataSourceOptions(cfg: DatabaseSettings): DataSourceOptions {
  return {
    type: 'postgres',
    url: cfg.databaseUrl,
    schema: cfg.dbSchema,
    entities: [...READ_MODEL_ENTITIES, ...SCHEDULE_ENTITIES, ...API_KEY_ENTITIES],
    migrations: MIGRATIONS,
    migrationsTableName: 'migrations',
    migrationsTransactionMode: 'all',
    // Schema changes go through migrations only (tests included): what runs is what ships.
    synchronize: false,
    logging: ['error'],
    extra: {
      max: Number(process.env.DB_POOL_SIZE ?? 10),
      application_name: (cfg.instanceId ?? 'runforge').slice(0, 63),
      connectionTimeoutMillis: cfg.dbConnectTimeoutMs ?? 0,
      ...(cfg.dbQueryTimeoutMs ? { query_timeout: cfg.dbQueryTimeoutMs } : {}),
    },
  };
}

/**
 * Applies pending migrations under a Postgres advisory lock so that several replicas (or a start
 * script and a service) can race safely. Creates the schema first: TypeORM keeps its migrations
 * table inside it.
 */
export async function runMigrations(cfg: DatabaseSettings): Promise<string[]> {
  const ds = new DataSource(dataSourceOptions(cfg));
  await ds.initialize();
  const lockKey = 0x52_46_4d_47; // "RFMG"
  const runner = ds.createQueryRunner();
  try {
    await runner.connect();
    await runner.query('SELECT pg_advisory_lock($1)', [lockKey]);
    await runner.query(`CREATE SCHEMA IF NOT EXISTS "${cfg.dbSchema}"`);
    const applied = await ds.runMigrations({ transaction: 'all' });
    await grantGatewayRole(
      runner,
      cfg.dbSchema,
      cfg.gatewayDatabaseUrl ?? gatewayDatabaseUrl(process.env, cfg.databaseUrl),
      cfg.databaseUrl,
    );
    return applied.map((m) => m.name);
  } finally {
    await runner.query('SELECT pg_advisory_unlock($1)', [lockKey]).catch(() => undefined);
    await runner.release();
    await ds.destroy();
  }
}
