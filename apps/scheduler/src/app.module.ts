import { DynamicModule, Module } from '@nestjs/common';
import type { CatalogueModel } from '@switchyard/contracts';
import { ObservabilityModule, type Logger } from '@switchyard/observability';
import { RedisModule } from '@switchyard/redis';
import { SchedulerConfig } from './config/scheduler.config';
import { SchedulerConfigModule } from './config/scheduler-config.module';
import { FailoverModule } from './failover/failover.module';
import { SchedulingModule } from './scheduling/scheduling.module';
import { VERSION } from './version';

@Module({})
export class AppModule {
  static forRoot(config: SchedulerConfig, catalogue: CatalogueModel[], logger: Logger): DynamicModule {
    return {
      module: AppModule,
      imports: [
        ObservabilityModule.forRoot({ service: 'scheduler', version: VERSION, logger }),
        SchedulerConfigModule.forRoot(config, catalogue),
        RedisModule.forRoot({ url: config.REDIS_URL, name: `switchyard-scheduler`, commands: 'background' }),
        SchedulingModule,
        FailoverModule,
      ],
    };
  }
}
