import { Module } from '@nestjs/common';
import { PipelineModule } from '../../pipeline/pipeline.module';
import { OllamaInferenceController } from './ollama-inference.controller';
import { OllamaModelsController } from './ollama-models.controller';
import { OllamaModelsService } from './ollama-models.service';

/** Ollama's native API at the edge's root (`/api/chat`, `/api/generate`, `/api/embed`, `/api/tags`, ...). */
@Module({
  imports: [PipelineModule],
  controllers: [OllamaInferenceController, OllamaModelsController],
  providers: [OllamaModelsService],
})
export class OllamaModule {}
