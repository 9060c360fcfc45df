import { Global, Inject, Injectable, Module, OnApplicationShutdown, OnModuleInit } from '@nestjs/common';
import { DATABASE, openDatabase, type Database } from '@switchyard/database';
import { ReadinessService, ROOT_LOGGER, type Logger } from '@switchyard/observability';
import { BATCH_CONFIG, type BatchConfig } from '../config/batch.config';
import { BATCH_MIGRATIONS } from './migrations';

/** Registers the database readiness check and closes the database last on shutdown. */
@Injectable()
class DatabaseLifecycle implements OnModuleInit, OnApplicationShutdown {
  constructor(
    @Inject(DATABASE) private readonly db: Database,
    private readonly readiness: ReadinessService,
  ) {}

  onModuleInit(): void {
    this.readiness.register('database', async () => {
      await this.db.query('select 1');
    });
  }

  async onApplicationShutdown(): Promise<void> {
    await this.db.close();
  }
}

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
