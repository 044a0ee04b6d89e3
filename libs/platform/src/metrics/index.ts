export * from './registry';
export * from './jetstream.metrics';
export * from './metrics.controller';
export * from './run-lifecycle';
