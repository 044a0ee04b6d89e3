export * from './submission';
export * from './idempotency';
export * from './run-windows';
