import { Global, Module } from '@nestjs/common';
import { WorkerMetrics } from './worker.metrics';

@Global()
@Module({ providers: [WorkerMetrics], exports: [WorkerMetrics] })
export class WorkerMetricsModule {}
