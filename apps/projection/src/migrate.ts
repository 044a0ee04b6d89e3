import 'reflect-metadata';
import { loadConfig, runMigrations } from '@runforge/platform';

/** `npm run migrate`: applies pending read-model migrations to DATABASE_URL / DB_SCHEMA. */
runMigrations(loadConfig('projection'))
  .then((applied) => {
    console.log(applied.length ? `applied: ${applied.join(', ')}` : 'read models are up to date');
  })
  .catch((err: unknown) => {
    console.error('migration failed:', err);
    process.exit(1);
  });
