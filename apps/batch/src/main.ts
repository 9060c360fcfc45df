import 'reflect-metadata';
import { EXIT_CONFIG, loadConfigOrExit } from '@switchyard/config';
import type { CatalogueModel } from '@switchyard/contracts';
import { createLogger, drainOnShutdown, exitOnFatalError } from '@switchyard/observability';
import { loadBatchCatalogue, startBatchApp } from './batch-app';
import { loadBatchConfig, type BatchConfig } from './config/batch.config';

async function main() {
  const config: BatchConfig = loadConfigOrExit(loadBatchConfig);
  let catalogue: CatalogueModel[];
  try {
    catalogue = loadBatchCatalogue(config);
  } catch (err) {
    // A bad environment or catalogue (missing, unreadable, invalid) is a configuration error.
    console.error(err instanceof Error ? err.message : String(err));
    process.exit(EXIT_CONFIG);
  }
  const logger = createLogger({ service: 'batch', level: config.LOG_LEVEL });
  exitOnFatalError(logger);
  try {
    const running = await startBatchApp(config, catalogue, logger);
    drainOnShutdown(running.app);
    logger.info({ url: running.url, models: catalogue.length, storage: config.DATABASE_URL ? 'postgres' : 'pglite' }, 'batch ready');
  } catch (err) {
    logger.fatal({ err }, 'batch failed to start');
    process.exit(1);
  }
}

void main();
