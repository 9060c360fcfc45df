import 'reflect-metadata';
import { ConfigError } from '@switchyard/config';
import { createHttpApp, createLogger, drainOnShutdown } from '@switchyard/observability';
import { AppModule } from './app.module';
import { loadEdgeConfig } from './config/edge.config';

async function main() {
  let config;
  try {
    config = loadEdgeConfig();
  } catch (err) {
    if (err instanceof ConfigError) {
      console.error(err.message);
      process.exit(78);
    }
    throw err;
  }
  const logger = createLogger({ service: 'edge', level: config.LOG_LEVEL });
  const app = await createHttpApp(AppModule.forRoot(config, logger), { logger });
  drainOnShutdown(app);
  await app.listen({ port: config.PORT, host: config.HOST });
  logger.info({ url: await app.getUrl() }, 'edge ready');
}

void main();
