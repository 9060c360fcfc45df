import { Controller, DynamicModule, Get, Header, Inject, Module } from '@nestjs/common';
import { collectDefaultMetrics, Gauge, Registry } from 'prom-client';

export const METRICS_REGISTRY = Symbol('METRICS_REGISTRY');

export interface ServiceInfo {
  /** edge | auth | scheduler | worker */
  service: string;
  version: string;
}

/** A fresh registry with Node's process metrics and `switchyard_build_info`. */
export function createMetricsRegistry(info: ServiceInfo): Registry {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  const buildInfo = new Gauge({
    name: 'switchyard_build_info',
    help: 'Always 1; labels tell which service, version and Node.js runtime is running.',
    labelNames: ['service', 'version', 'node_version'],
    registers: [registry],
  });
  buildInfo.set({ service: info.service, version: info.version, node_version: process.version }, 1);
  return registry;
}

@Controller()
export class MetricsController {
  constructor(@Inject(METRICS_REGISTRY) private readonly registry: Registry) {}

  @Get('metrics')
  @Header('Content-Type', 'text/plain; version=0.0.4; charset=utf-8')
  metrics(): Promise<string> {
    return this.registry.metrics();
  }
}

@Module({})
export class MetricsModule {
  static forRoot(info: ServiceInfo): DynamicModule {
    return {
      module: MetricsModule,
      global: true,
      controllers: [MetricsController],
      providers: [{ provide: METRICS_REGISTRY, useFactory: () => createMetricsRegistry(info) }],
      exports: [METRICS_REGISTRY],
    };
  }
}
