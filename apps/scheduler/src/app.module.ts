import { DynamicModule, Module } from '@nestjs/common';
import type { CatalogueModel } from '@switchyard/contracts';
import { ObservabilityModule, type Logger } from '@switchyard/observability';
import { SchedulerConfig } from './config/scheduler.config';
import { SchedulerConfigModule } from './config/scheduler-config.module';
import { FailoverModule } from './failover/failover.module';
import { RedisModule } from './redis/redis.module';
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
        RedisModule,
        SchedulingModule,
        FailoverModule,
      ],
    };
  }
}
