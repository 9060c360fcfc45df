import { Pool, type PoolClient, types as pgTypes } from 'pg';
import type { Logger } from '@switchyard/observability';
import { Database, Queryable, QueryResult, quoteIdent } from './database';

const INT8_OID = 20;

/** int8 as a JS number (every counter we store fits in 2^53), as PGlite does. */
const typeParsers = {
  getTypeParser: ((oid: number, format?: 'text' | 'binary') => {
    if (oid === INT8_OID && format !== 'binary') return (value: string) => Number(value);
    return format === undefined ? pgTypes.getTypeParser(oid) : pgTypes.getTypeParser(oid, format);
  }) as typeof pgTypes.getTypeParser,
};

export interface PostgresOptions {
  url: string;
  schema: string;
  poolMax: number;
  logger: Logger;
}

class ClientQueryable implements Queryable {
  constructor(private readonly client: PoolClient) {}

  async query<R>(sql: string, params: readonly unknown[] = []): Promise<QueryResult<R>> {
    const res = await this.client.query(sql, params as unknown[]);
    return { rows: res.rows as R[], rowCount: res.rowCount ?? res.rows.length };
  }
}

/** PostgreSQL through a `pg` pool; every connection has `search_path` set to the configured schema. */
export class PostgresDatabase implements Database {
  readonly kind = 'postgres' as const;
  private readonly pool: Pool;

  private constructor(opts: PostgresOptions) {
    this.pool = new Pool({
      connectionString: opts.url,
      max: opts.poolMax,
      options: `-c search_path=${quoteIdent(opts.schema)}`,
      types: typeParsers,
      connectionTimeoutMillis: 5000,
      idleTimeoutMillis: 30000,
    });
    // An idle client losing its connection must not crash the process; the pool replaces it.
    this.pool.on('error', (err) => opts.logger.warn({ err: { message: err.message } }, 'postgres idle client error'));
  }

  static async open(opts: PostgresOptions): Promise<PostgresDatabase> {
    const db = new PostgresDatabase(opts);
    try {
      // The schema must exist before anything runs with it on the search_path.
      await db.pool.query(`create schema if not exists ${quoteIdent(opts.schema)}`);
    } catch (err) {
      await db.close();
      throw err;
    }
    return db;
  }

  async query<R>(sql: string, params: readonly unknown[] = []): Promise<QueryResult<R>> {
    const res = await this.pool.query(sql, params as unknown[]);
    return { rows: res.rows as R[], rowCount: res.rowCount ?? res.rows.length };
  }

  async transaction<T>(fn: (tx: Queryable) => Promise<T>): Promise<T> {
    const client = await this.pool.connect();
    try {
      await client.query('begin');
      const result = await fn(new ClientQueryable(client));
      await client.query('commit');
      return result;
    } catch (err) {
      await client.query('rollback').catch(() => undefined);
      throw err;
    } finally {
      client.release();
    }
  }

  async exec(sql: string): Promise<void> {
    await this.pool.query(sql);
  }

  async close(): Promise<void> {
    await this.pool.end();
  }
}
