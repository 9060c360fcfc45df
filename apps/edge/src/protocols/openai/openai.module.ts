import { Module } from '@nestjs/common';
import { PipelineModule } from '../../pipeline/pipeline.module';
import { CompletionsController } from './completions.controller';
import { EmbeddingsController } from './embeddings.controller';
import { ResponsesController } from './responses/responses.controller';

/** OpenAI's API: chat completions, completions, embeddings, Responses (models: ModelsModule). */
@Module({
  imports: [PipelineModule],
  controllers: [CompletionsController, EmbeddingsController, ResponsesController],
})
export class OpenAIModule {}
