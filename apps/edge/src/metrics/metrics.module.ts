import { Global, Module } from '@nestjs/common';
import { ModelsCatalogueModule } from '../models/models-catalogue.module';
import { EdgeMetrics } from './edge-metrics.service';

@Global()
@Module({ imports: [ModelsCatalogueModule], providers: [EdgeMetrics], exports: [EdgeMetrics] })
export class EdgeMetricsModule {}
