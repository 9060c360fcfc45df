import { Global, Module } from '@nestjs/common';
import { DATABASE, DatabaseLifecycle, openDatabase } from '@switchyard/database';
import { ROOT_LOGGER, type Logger } from '@switchyard/observability';
import { BATCH_CONFIG, type BatchConfig } from '../config/batch.config';
import { BATCH_MIGRATIONS } from './migrations';

/** PostgreSQL when DATABASE_URL is set, else PGlite in BATCH_DATA_DIR; migrated at boot. */
@Global()
@Module({
  providers: [
    {
      provide: DATABASE,
      inject: [BATCH_CONFIG, ROOT_LOGGER],
      useFactory: (config: BatchConfig, logger: Logger) =>
        openDatabase(
          { url: config.DATABASE_URL, schema: config.BATCH_DB_SCHEMA, poolMax: config.BATCH_DB_POOL_MAX, dataDir: config.BATCH_DATA_DIR },
          BATCH_MIGRATIONS,
          logger.child({ context: 'Storage' }),
        ),
    },
    DatabaseLifecycle,
  ],
  exports: [DATABASE],
})
export class StorageModule {}
