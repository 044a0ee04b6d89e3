export * from './config';
export * from './tokens';
export * from './platform.module';
export * from './logging';
export * from './bootstrap';
export * from './metrics.controller';
export * from './access';
