import { Module } from '@nestjs/common';
import { ModelsCatalogueModule } from '../models/models-catalogue.module';
import { QueueModule } from '../queue/queue.module';
import { AdmissionService } from './admission.service';
import { RateLimitRepository } from './rate-limit.repository';
import { RetryEstimator } from './retry-estimator.service';

@Module({
  imports: [ModelsCatalogueModule, QueueModule],
  providers: [AdmissionService, RateLimitRepository, RetryEstimator],
  exports: [AdmissionService],
})
export class AdmissionModule {}
