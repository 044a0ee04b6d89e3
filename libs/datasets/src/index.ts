export * from './bars-loader';
export * from './dataset-store';
export * from './energy-sources';
