export * from './calendar-window';
