export * from './connection';
export * from './stream-reader';
export * from './unavailable';
export * from './transport/bindings';
export * from './transport/jetstream.context';
export * from './transport/jetstream.client';
export * from './transport/jetstream.server';
export * from './stream-range';
