/**
 * Traces and metrics, named once. An app starts tracing with `@runforge/telemetry/start` before
 * Nest, Fastify or pg are required (that entry loads nothing but OpenTelemetry).
 */
export * from './names';
export * from './context';
export * from './start';
export * from './batch-spans';
export * from './registry';
export * from './jetstream.metrics';
export * from './run-lifecycle';
