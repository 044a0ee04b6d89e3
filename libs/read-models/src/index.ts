export * from './entities';
export * from './schedules.entities';
export * from './api-keys.entities';
export * from './data-source';
export * from './typeorm';
export * from './pool-query';
export * from './database-roles';
