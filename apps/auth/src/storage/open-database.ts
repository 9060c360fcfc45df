import { openDatabase as openMigrated, pgliteDataDir as pgliteFolder, type Database, type MigrationSet } from '@switchyard/database';
import type { Logger } from '@switchyard/observability';
import type { AuthConfig } from '../config/auth.config';
import { AUTH_MIGRATIONS } from './migrations';

/** Folder of the embedded database inside AUTH_DATA_DIR. */
export function pgliteDataDir(config: Pick<AuthConfig, 'AUTH_DATA_DIR'>): string {
  return pgliteFolder(config.AUTH_DATA_DIR);
}

/**
 * Opens PostgreSQL (DATABASE_URL) or the embedded PGlite database in AUTH_DATA_DIR, and migrates it
 * (tests pass fewer migrations to stand for a database from before the others).
 */
export function openDatabase(
  config: Pick<AuthConfig, 'DATABASE_URL' | 'AUTH_DB_SCHEMA' | 'AUTH_DB_POOL_MAX' | 'AUTH_DATA_DIR'>,
  logger: Logger,
  migrations: MigrationSet = AUTH_MIGRATIONS,
): Promise<Database> {
  return openMigrated(
    { url: config.DATABASE_URL, schema: config.AUTH_DB_SCHEMA, poolMax: config.AUTH_DB_POOL_MAX, dataDir: config.AUTH_DATA_DIR },
    migrations,
    logger,
  );
}
