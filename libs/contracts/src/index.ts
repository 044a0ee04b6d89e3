export * from './topology';
export * from './envelope';
export * from './requests';
export * from './events';
export * from './messaging';
export * from './run-view';
export * from './work';
export * from './trials';
