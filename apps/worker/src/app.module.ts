import { DynamicModule, Module } from '@nestjs/common';
import { ObservabilityModule, type Logger } from '@switchyard/observability';
import { RedisModule } from '@switchyard/redis';
import type { ModelCatalogue } from './config/model-catalogue';
import { WorkerConfigModule } from './config/worker-config.module';
import type { WorkerConfig } from './config/worker.config';
import { JobsModule } from './jobs/jobs.module';
import { WorkerLifecycle } from './lifecycle/worker-lifecycle.service';
import { WorkerMetricsModule } from './metrics/worker-metrics.module';
import { PlacementModule } from './placement/placement.module';
import { ResidencyModule } from './residency/residency.module';
import { VERSION } from './version';

@Module({})
export class AppModule {
  static forRoot(config: WorkerConfig, logger: Logger, opts: { catalogue?: ModelCatalogue } = {}): DynamicModule {
    return {
      module: AppModule,
      imports: [
        ObservabilityModule.forRoot({ service: 'worker', version: VERSION, logger }),
        WorkerConfigModule.forRoot(config, opts.catalogue),
        WorkerMetricsModule,
        RedisModule.forRoot({ url: config.REDIS_URL, name: `sy-worker-${config.WORKER_ID}`, commands: 'background', autoPipelining: true, blocking: true, subscriber: true }),
        JobsModule,
        ResidencyModule,
        PlacementModule,
      ],
      providers: [WorkerLifecycle],
    };
  }
}
