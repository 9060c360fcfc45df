import { Module } from '@nestjs/common';
import { PipelineModule } from '../../pipeline/pipeline.module';
import { CompletionsController } from './completions.controller';
import { EmbeddingsController } from './embeddings.controller';
import { FilesBatchesModule } from './files-batches/files-batches.module';
import { ResponsesController } from './responses/responses.controller';

/** OpenAI's API: chat completions, completions, embeddings, Responses, Files and Batches (models: ModelsModule). */
@Module({
  imports: [PipelineModule, FilesBatchesModule],
  controllers: [CompletionsController, EmbeddingsController, ResponsesController],
})
export class OpenAIModule {}
