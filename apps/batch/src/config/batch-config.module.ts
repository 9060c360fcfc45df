import { DynamicModule, Global, Module } from '@nestjs/common';
import type { CatalogueModel } from '@switchyard/contracts';
import { BATCH_CONFIG, type BatchConfig } from './batch.config';

/** The catalogue of models batches may use (MODEL_CATALOGUE), injectable as CATALOGUE. */
export const CATALOGUE = Symbol('CATALOGUE');

/** Makes the parsed environment (BATCH_CONFIG) and the model catalogue (CATALOGUE) injectable everywhere. */
@Global()
@Module({})
export class BatchConfigModule {
  static forRoot(config: BatchConfig, catalogue: readonly CatalogueModel[]): DynamicModule {
    return {
      module: BatchConfigModule,
      providers: [
        { provide: BATCH_CONFIG, useValue: config },
        { provide: CATALOGUE, useValue: catalogue },
      ],
      exports: [BATCH_CONFIG, CATALOGUE],
    };
  }
}
