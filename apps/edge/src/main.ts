import 'reflect-metadata';
import { loadConfigOrExit } from '@switchyard/config';
import { createLogger, drainOnShutdown, exitOnFatalError } from '@switchyard/observability';
import { loadEdgeConfig } from './config/edge.config';
import { createEdgeApp } from './edge.app';

async function main() {
  const config = loadConfigOrExit(loadEdgeConfig);
  const logger = createLogger({ service: 'edge', level: config.LOG_LEVEL });
  exitOnFatalError(logger);
  const app = await createEdgeApp(config, logger);
  drainOnShutdown(app);
  await app.listen({ port: config.PORT, host: config.HOST });
  logger.info({ url: await app.getUrl(), edgeId: config.EDGE_ID }, 'edge ready');
}

void main();
