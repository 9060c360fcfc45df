import { Module } from '@nestjs/common';
import { AdmissionModule } from '../admission/admission.module';
import { AuthModule } from '../auth/auth.module';
import { ModelsCatalogueModule } from '../models/models-catalogue.module';
import { QueueModule } from '../queue/queue.module';
import { ApiKeyGuard } from './api-key.guard';
import { InferencePipeline } from './inference-pipeline.service';

/** The one request pipeline (key guard, admission, enqueue, relay) every protocol adapter uses. */
@Module({
  imports: [AuthModule, AdmissionModule, ModelsCatalogueModule, QueueModule],
  providers: [ApiKeyGuard, InferencePipeline],
  exports: [ApiKeyGuard, InferencePipeline, AuthModule, AdmissionModule, ModelsCatalogueModule],
})
export class PipelineModule {}
