export * from './cadence';
export * from './schedule.schema';
export * from './schedule-fires';
export * from './schedule-ticker';
