import { DynamicModule, Module } from '@nestjs/common';
import { ObservabilityModule, type Logger } from '@switchyard/observability';
import { RedisModule } from '@switchyard/redis';
import { EdgeConfigModule } from './config/edge-config.module';
import type { EdgeConfig } from './config/edge.config';
import { EdgeMetricsModule } from './metrics/metrics.module';
import { ModelsModule } from './models/models.module';
import { AnthropicModule } from './protocols/anthropic/anthropic.module';
import { OllamaModule } from './protocols/ollama/ollama.module';
import { OpenAIModule } from './protocols/openai/openai.module';
import { VERSION } from './version';

@Module({})
export class AppModule {
  static forRoot(config: EdgeConfig, logger: Logger): DynamicModule {
    return {
      module: AppModule,
      imports: [
        ObservabilityModule.forRoot({ service: 'edge', version: VERSION, logger }),
        EdgeConfigModule.forRoot(config),
        // The request path fails fast while Redis is away: a 503, never a hang.
        RedisModule.forRoot({ url: config.REDIS_URL, name: config.EDGE_ID, commands: 'request', subscriber: true }),
        EdgeMetricsModule,
        OpenAIModule,
        OllamaModule,
        AnthropicModule,
        ModelsModule,
      ],
    };
  }
}
