/**
 * The telemetry entry point (`@runforge/platform/telemetry`). It loads nothing but OpenTelemetry,
 * so an app can start tracing before Nest, Fastify or pg are required. Everything here is also
 * exported from `@runforge/platform`.
 */
export * from './names';
export * from './context';
export * from './start';
export * from './batch-spans';
