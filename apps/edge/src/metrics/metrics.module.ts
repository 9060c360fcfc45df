import { Global, Module } from '@nestjs/common';
import { EdgeMetrics } from './edge-metrics.service';

@Global()
@Module({ providers: [EdgeMetrics], exports: [EdgeMetrics] })
export class EdgeMetricsModule {}
