import { Inject, Injectable, Module, OnApplicationShutdown, OnModuleInit } from '@nestjs/common';
import { ReadinessService } from '@switchyard/observability';
import { WORKER_CONFIG, type WorkerConfig } from '../config/worker.config';
import { OLLAMA_CLIENT, OllamaClient } from './ollama.client';
import { OllamaHealth } from './ollama-health.service';

/** Registers the Ollama readiness check; closes the HTTP agent last. */
@Injectable()
export class OllamaLifecycle implements OnModuleInit, OnApplicationShutdown {
  constructor(
    @Inject(OLLAMA_CLIENT) private readonly client: OllamaClient,
    private readonly health: OllamaHealth,
    private readonly readiness: ReadinessService,
  ) {}

  onModuleInit(): void {
    this.readiness.register('ollama', () => this.health.check());
  }

  async onApplicationShutdown(): Promise<void> {
    this.health.stop();
    await this.client.close();
  }
}

@Module({
  providers: [
    {
      provide: OLLAMA_CLIENT,
      inject: [WORKER_CONFIG],
      useFactory: (config: WorkerConfig) =>
        new OllamaClient(config.OLLAMA_URL, { headersTimeoutMs: config.WORKER_LOAD_TIMEOUT_MS, bodyTimeoutMs: config.WORKER_LOAD_TIMEOUT_MS }),
    },
    OllamaHealth,
    OllamaLifecycle,
  ],
  exports: [OLLAMA_CLIENT, OllamaHealth],
})
export class OllamaModule {}
