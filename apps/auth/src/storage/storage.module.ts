import { Global, Inject, Injectable, Module, OnApplicationShutdown, OnModuleInit } from '@nestjs/common';
import { ReadinessService, ROOT_LOGGER, type Logger } from '@switchyard/observability';
import { AUTH_CONFIG, type AuthConfig } from '../config/auth.config';
import { DATABASE, type Database } from '@switchyard/database';
import { openDatabase } from './open-database';
import { TransactionRunner } from '@switchyard/database';

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

@Global()
@Module({
  providers: [
    {
      provide: DATABASE,
      inject: [AUTH_CONFIG, ROOT_LOGGER],
      useFactory: (config: AuthConfig, logger: Logger) => openDatabase(config, logger.child({ context: 'Storage' })),
    },
    DatabaseLifecycle,
    TransactionRunner,
  ],
  exports: [DATABASE, TransactionRunner],
})
export class StorageModule {}
