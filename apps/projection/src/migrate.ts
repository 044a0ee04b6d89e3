import 'reflect-metadata';
import { loadConfig } from '@runforge/service';
import { runMigrations } from '@runforge/read-models';

/** `npm run migrate`: applies pending read-model migrations to DATABASE_URL / DB_SCHEMA. */
runMigrations(loadConfig('projection'))
  .then((applied) => {
    console.log(applied.length ? `applied: ${applied.join(', ')}` : 'read models are up to date');
  })
  .catch((err: unknown) => {
    console.error('migration failed:', err);
    process.exit(1);
  });
