export * from './connection';
export * from './event-bus';
export * from './unavailable';
