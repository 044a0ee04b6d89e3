import { TypeOrmModule } from '@nestjs/typeorm';
import type { DynamicModule } from '@nestjs/common';
import { dataSourceOptions, type DatabaseSettings } from './data-source';

export function readModelsModule(cfg: DatabaseSettings): DynamicModule {
  return TypeOrmModule.forRoot({ ...dataSourceOptions(cfg), retryAttempts: 20, retryDelay: 500 });
}
