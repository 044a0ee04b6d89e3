export * from './submission';
export * from './idempotency';
