import { Module } from '@nestjs/common';
import { AdmissionModule } from '../admission/admission.module';
import { AuthModule } from '../auth/auth.module';
import { ModelsCatalogueModule } from '../models/models-catalogue.module';
import { QueueModule } from '../queue/queue.module';
import { EmbeddingsController } from './embeddings.controller';
import { EmbeddingsService } from './embeddings.service';

@Module({
  imports: [AuthModule, AdmissionModule, ModelsCatalogueModule, QueueModule],
  controllers: [EmbeddingsController],
  providers: [EmbeddingsService],
})
export class EmbeddingsModule {}
