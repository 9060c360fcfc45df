import { Global, Module } from '@nestjs/common';
import { ROOT_LOGGER, type Logger } from '@switchyard/observability';
import { DATABASE, DatabaseLifecycle, TransactionRunner } from '@switchyard/database';
import { AUTH_CONFIG, type AuthConfig } from '../config/auth.config';
import { openDatabase } from './open-database';

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
