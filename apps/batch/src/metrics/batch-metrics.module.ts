import { Global, Module } from '@nestjs/common';
import { BatchMetrics } from './batch-metrics';

@Global()
@Module({ providers: [BatchMetrics], exports: [BatchMetrics] })
export class BatchMetricsModule {}
