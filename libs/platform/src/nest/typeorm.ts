import { TypeOrmModule } from '@nestjs/typeorm';
import type { DynamicModule } from '@nestjs/common';
import type { RunForgeConfig } from '../config';
import { dataSourceOptions } from '../db/data-source';

export function readModelsModule(cfg: RunForgeConfig): DynamicModule {
  return TypeOrmModule.forRoot({ ...dataSourceOptions(cfg), retryAttempts: 20, retryDelay: 500 });
}
