import 'reflect-metadata';
import { ConfigError } from '@switchyard/config';
import { createHttpApp, createLogger, drainOnShutdown } from '@switchyard/observability';
import { AppModule } from './app.module';
import { loadWorkerConfig, type WorkerConfig } from './config/worker.config';

async function main() {
  let config: WorkerConfig;
  try {
    config = loadWorkerConfig();
  } catch (err) {
    if (err instanceof ConfigError) {
      console.error(err.message);
      process.exit(78);
    }
    throw err;
  }
  const logger = createLogger({ service: 'worker', level: config.LOG_LEVEL });
  const app = await createHttpApp(AppModule.forRoot(config, logger), { logger });
  drainOnShutdown(app);
  await app.listen({ port: config.PORT, host: config.HOST });
  logger.info({ url: await app.getUrl(), workerId: config.WORKER_ID }, 'worker ready');
}

void main();
