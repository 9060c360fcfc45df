import { DynamicModule, Module } from '@nestjs/common';
import { ObservabilityModule, type Logger } from '@switchyard/observability';
import { WorkerConfig, WORKER_CONFIG } from './config/worker.config';
import { VERSION } from './version';

@Module({})
export class AppModule {
  static forRoot(config: WorkerConfig, logger: Logger): DynamicModule {
    return {
      module: AppModule,
      imports: [ObservabilityModule.forRoot({ service: 'worker', version: VERSION, logger })],
      providers: [{ provide: WORKER_CONFIG, useValue: config }],
    };
  }
}
