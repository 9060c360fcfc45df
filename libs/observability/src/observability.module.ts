import { DynamicModule, Global, Module } from '@nestjs/common';
import type { Logger } from 'pino';
import { HealthModule } from './health.module';
import { MetricsModule, ServiceInfo } from './metrics.module';

export const ROOT_LOGGER = Symbol('ROOT_LOGGER');

/** Metrics (`/metrics`), health (`/healthz`, `/readyz`) and the root pino logger, for one service. */
@Global()
@Module({})
export class ObservabilityModule {
  static forRoot(info: ServiceInfo & { logger: Logger }): DynamicModule {
    return {
      module: ObservabilityModule,
      imports: [MetricsModule.forRoot(info), HealthModule],
      providers: [{ provide: ROOT_LOGGER, useValue: info.logger }],
      exports: [ROOT_LOGGER, MetricsModule, HealthModule],
    };
  }
}
