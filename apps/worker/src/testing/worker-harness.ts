import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import { createHttpApp } from '@switchyard/observability';
import { AppModule } from '../app.module';
import { loadWorkerConfig, type WorkerConfig } from '../config/worker.config';
import { testLogger } from './test-logger';

export interface RunningWorker {
  app: NestFastifyApplication;
  config: WorkerConfig;
  /** Base URL of its HTTP server (/metrics, /readyz). */
  url: string;
  close(): Promise<void>;
}

/** Starts the whole worker app in this process, configured by `env` only (never this process's environment). */
export async function startWorker(env: Record<string, string>): Promise<RunningWorker> {
  const config = loadWorkerConfig({
    PORT: '0',
    SCHEDULER_GRPC_URL: 'none',
    AUTH_GRPC_URL: 'none',
    WORKER_GPU_MEMORY_GB: '80',
    WORKER_STATUS_INTERVAL_MS: '200',
    WORKER_OLLAMA_PROBE_MS: '100',
    WORKER_RECONNECT_MIN_MS: '50',
    WORKER_RECONNECT_MAX_MS: '500',
    WORKER_LOAD_TIMEOUT_MS: '20000',
    WORKER_DRAIN_TIMEOUT_MS: '10000',
    ...env,
  });
  const logger = testLogger();
  const app = await createHttpApp(AppModule.forRoot(config, logger), { logger });
  await app.listen({ port: 0, host: '127.0.0.1' });
  const url = (await app.getUrl()).replace('[::1]', '127.0.0.1');
  let closed = false;
  return {
    app,
    config,
    url,
    close: async () => {
      if (closed) return;
      closed = true;
      await app.close();
    },
  };
}
