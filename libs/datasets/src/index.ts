export * from './bars-loader';
export * from './dataset-store';
