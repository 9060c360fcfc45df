import 'reflect-metadata';
import { loadConfigOrExit } from '@switchyard/config';
import { createHttpApp, createLogger, drainOnShutdown, exitOnFatalError } from '@switchyard/observability';
import { AppModule } from './app.module';
import { loadWorkerConfig } from './config/worker.config';

async function main() {
  const config = loadConfigOrExit(loadWorkerConfig);
  const logger = createLogger({ service: 'worker', level: config.LOG_LEVEL });
  exitOnFatalError(logger);
  const app = await createHttpApp(AppModule.forRoot(config, logger), { logger });
  drainOnShutdown(app);
  await app.listen({ port: config.PORT, host: config.HOST });
  logger.info({ url: await app.getUrl(), workerId: config.WORKER_ID }, 'worker ready');
}

void main();
