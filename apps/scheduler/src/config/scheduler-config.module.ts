import { DynamicModule, Global, Module } from '@nestjs/common';
import type { CatalogueModel } from '@switchyard/contracts';
import { MODEL_CATALOGUE } from './catalogue';
import { SCHEDULER_CONFIG, type SchedulerConfig } from './scheduler.config';

/** The parsed environment and the model catalogue, for every module of the scheduler. */
@Global()
@Module({})
export class SchedulerConfigModule {
  static forRoot(config: SchedulerConfig, catalogue: CatalogueModel[]): DynamicModule {
    return {
      module: SchedulerConfigModule,
      providers: [
        { provide: SCHEDULER_CONFIG, useValue: config },
        { provide: MODEL_CATALOGUE, useValue: catalogue },
      ],
      exports: [SCHEDULER_CONFIG, MODEL_CATALOGUE],
    };
  }
}
