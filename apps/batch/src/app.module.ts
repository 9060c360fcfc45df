import { DynamicModule, Module } from '@nestjs/common';
import { APP_FILTER } from '@nestjs/core';
import type { CatalogueModel } from '@switchyard/contracts';
import { ObservabilityModule, type Logger } from '@switchyard/observability';
import { RedisModule } from '@switchyard/redis';
import { BatchesModule } from './batches/batches.module';
import { BatchConfigModule } from './config/batch-config.module';
import type { BatchConfig } from './config/batch.config';
import { FilesModule } from './files/files.module';
import { OpenAIExceptionFilter } from './http/openai-exception.filter';
import { BatchMetricsModule } from './metrics/batch-metrics.module';
import { RunnerModule } from './runner/runner.module';
import { StorageModule } from './storage/storage.module';
import { VERSION } from './version';

@Module({})
export class AppModule {
  static forRoot(config: BatchConfig, catalogue: readonly CatalogueModel[], logger: Logger): DynamicModule {
    return {
      module: AppModule,
      imports: [
        ObservabilityModule.forRoot({ service: 'batch', version: VERSION, logger }),
        BatchConfigModule.forRoot(config, catalogue),
        RedisModule.forRoot({ url: config.REDIS_URL, name: `${config.SWITCHYARD_PREFIX}:batch`, commands: 'background', subscriber: true }),
        StorageModule,
        BatchMetricsModule,
        FilesModule,
        BatchesModule,
        RunnerModule,
      ],
      providers: [{ provide: APP_FILTER, useClass: OpenAIExceptionFilter }],
    };
  }
}
