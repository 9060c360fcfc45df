import 'reflect-metadata';
import { ConfigError } from '@switchyard/config';
import { createLogger, drainOnShutdown } from '@switchyard/observability';
import { loadEdgeConfig, type EdgeConfig } from './config/edge.config';
import { createEdgeApp } from './edge.app';

async function main() {
  let config: EdgeConfig;
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
  const app = await createEdgeApp(config, logger);
  drainOnShutdown(app);
  await app.listen({ port: config.PORT, host: config.HOST });
  logger.info({ url: await app.getUrl(), edgeId: config.EDGE_ID }, 'edge ready');
}

void main();
