export * from './submission';
export * from './idempotency';
export * from './kinds';
export * from './program-kinds';
export * from './run-windows';
export * from './energy-kinds';
