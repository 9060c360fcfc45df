import { DynamicModule, Global, Module } from '@nestjs/common';
import { loadModelCatalogue } from '@switchyard/config';
import { MODEL_CATALOGUE, ModelCatalogue } from './model-catalogue';
import { resolveCataloguePath, WORKER_CONFIG, type WorkerConfig } from './worker.config';

/** The parsed environment and the model catalogue, for every module. */
@Global()
@Module({})
export class WorkerConfigModule {
  static forRoot(config: WorkerConfig, catalogue?: ModelCatalogue): DynamicModule {
    return {
      module: WorkerConfigModule,
      providers: [
        { provide: WORKER_CONFIG, useValue: config },
        {
          provide: MODEL_CATALOGUE,
          useFactory: () => catalogue ?? new ModelCatalogue(loadModelCatalogue(resolveCataloguePath(config.MODEL_CATALOGUE))),
        },
      ],
      exports: [WORKER_CONFIG, MODEL_CATALOGUE],
    };
  }
}
