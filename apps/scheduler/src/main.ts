import 'reflect-metadata';
import { ConfigError } from '@switchyard/config';
import { createHttpApp, createLogger, drainOnShutdown } from '@switchyard/observability';
import { AppModule } from './app.module';
import { loadSchedulerConfig } from './config/scheduler.config';

async function main() {
  let config;
  try {
    config = loadSchedulerConfig();
  } catch (err) {
    if (err instanceof ConfigError) {
      console.error(err.message);
      process.exit(78);
    }
    throw err;
  }
  const logger = createLogger({ service: 'scheduler', level: config.LOG_LEVEL });
  const app = await createHttpApp(AppModule.forRoot(config, logger), { logger });
  drainOnShutdown(app);
  await app.listen({ port: config.PORT, host: config.HOST });
  logger.info({ url: await app.getUrl() }, 'scheduler ready');
}

void main();
