import path from 'node:path';
import type { Logger } from '@switchyard/observability';
import type { AuthConfig } from '../config/auth.config';
import type { Database } from './database';
import { migrate } from './migrations';
import { PgliteDatabase } from './pglite.database';
import { PostgresDatabase } from './postgres.database';

/** Folder of the embedded database inside AUTH_DATA_DIR. */
export function pgliteDataDir(config: Pick<AuthConfig, 'AUTH_DATA_DIR'>): string {
  return path.join(path.resolve(config.AUTH_DATA_DIR), 'pglite');
}

/** Opens PostgreSQL (DATABASE_URL) or the embedded PGlite database, and migrates it. */
export async function openDatabase(
  config: Pick<AuthConfig, 'DATABASE_URL' | 'AUTH_DB_SCHEMA' | 'AUTH_DB_POOL_MAX' | 'AUTH_DATA_DIR'>,
  logger: Logger,
): Promise<Database> {
  const db: Database = config.DATABASE_URL
    ? await PostgresDatabase.open({ url: config.DATABASE_URL, schema: config.AUTH_DB_SCHEMA, poolMax: config.AUTH_DB_POOL_MAX, logger })
    : await PgliteDatabase.open({ dataDir: pgliteDataDir(config), schema: config.AUTH_DB_SCHEMA });
  try {
    const applied = await migrate(db);
    logger.info(
      { storage: db.kind, schema: config.AUTH_DB_SCHEMA, migrationsApplied: applied, dataDir: db.kind === 'pglite' ? pgliteDataDir(config) : undefined },
      'auth storage ready',
    );
  } catch (err) {
    await db.close();
    throw err;
  }
  return db;
}
