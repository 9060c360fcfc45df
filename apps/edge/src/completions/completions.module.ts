import { Module } from '@nestjs/common';
import { AdmissionModule } from '../admission/admission.module';
import { AuthModule } from '../auth/auth.module';
import { ModelsCatalogueModule } from '../models/models-catalogue.module';
import { QueueModule } from '../queue/queue.module';
import { CompletionsController } from './completions.controller';
import { CompletionsService } from './completions.service';

@Module({
  imports: [AuthModule, AdmissionModule, ModelsCatalogueModule, QueueModule],
  controllers: [CompletionsController],
  providers: [CompletionsService],
})
export class CompletionsModule {}
