import { Module } from '@nestjs/common';
import { PipelineModule } from '../../pipeline/pipeline.module';
import { CompletionsController } from './completions.controller';
import { EmbeddingsController } from './embeddings.controller';

/** OpenAI's API: chat completions, completions, embeddings (models: ModelsModule). */
@Module({
  imports: [PipelineModule],
  controllers: [CompletionsController, EmbeddingsController],
})
export class OpenAIModule {}
