import path from 'node:path';
import type { Logger } from '@switchyard/observability';
import type { Database } from './database';
import { migrate, type MigrationSet } from './migrate';
import { PgliteDatabase } from './pglite.database';
import { PostgresDatabase } from './postgres.database';

export interface OpenDatabaseOptions {
  /** PostgreSQL connection string; when unset, the embedded PGlite database in `dataDir` is used. */
  url?: string;
  /** Schema the tables live in (created if missing). */
  schema: string;
  /** Largest number of PostgreSQL connections. */
  poolMax: number;
  /** The service's data folder (e.g. AUTH_DATA_DIR); PGlite lives in its `pglite` subfolder. */
  dataDir: string;
}

/** Folder of the embedded database inside a service's data folder. */
export function pgliteDataDir(dataDir: string): string {
  return path.join(path.resolve(dataDir), 'pglite');
}

/** Opens PostgreSQL (`url`) or the embedded PGlite database, and applies the service's migrations. */
export async function openDatabase(opts: OpenDatabaseOptions, migrations: MigrationSet, logger: Logger): Promise<Database> {
  const db: Database = opts.url
    ? await PostgresDatabase.open({ url: opts.url, schema: opts.schema, poolMax: opts.poolMax, logger })
    : await PgliteDatabase.open({ dataDir: pgliteDataDir(opts.dataDir), schema: opts.schema });
  try {
    const applied = await migrate(db, migrations);
    logger.info(
      { storage: db.kind, schema: opts.schema, migrationsApplied: applied, dataDir: db.kind === 'pglite' ? pgliteDataDir(opts.dataDir) : undefined },
      'storage ready',
    );
  } catch (err) {
    await db.close();
    throw err;
  }
  return db;
}
