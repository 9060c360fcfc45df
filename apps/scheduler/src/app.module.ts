import { DynamicModule, Module } from '@nestjs/common';
import { ObservabilityModule, type Logger } from '@switchyard/observability';
import { SchedulerConfig, SCHEDULER_CONFIG } from './config/scheduler.config';
import { VERSION } from './version';

@Module({})
export class AppModule {
  static forRoot(config: SchedulerConfig, logger: Logger): DynamicModule {
    return {
      module: AppModule,
      imports: [ObservabilityModule.forRoot({ service: 'scheduler', version: VERSION, logger })],
      providers: [{ provide: SCHEDULER_CONFIG, useValue: config }],
    };
  }
}
