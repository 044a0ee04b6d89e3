import type { Pool, QueryResultRow } from 'pg';
import type { DataSource } from 'typeorm';

/**
 * One statement straight on the DataSource's connection pool: a single round trip, without
 * TypeORM's query builder or a query runner. For the reads every request makes (the API key's
 * lookup, a run's status), where the gateway's profile showed TypeORM's `findOneBy` costing about
 * 0.3 ms of CPU per call; everything else keeps using repositories.
 */
export async function poolQuery<R extends QueryResultRow>(
  db: DataSource,
  text: string,
  values: unknown[],
): Promise<R[]> {
  const pool = (db.driver as unknown as { master: Pool }).master;
  const result = await pool.query<R>(text, values);
  return result.rows;
}

/** The schema a DataSource's tables live in (`public` unless configured). */
export function schemaOf(db: DataSource): string {
  return (db.options as { schema?: string }).schema ?? 'public';
}
