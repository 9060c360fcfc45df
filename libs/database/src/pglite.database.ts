import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { PGlite, type Transaction } from '@electric-sql/pglite';
import { Database, Queryable, QueryResult, quoteIdent } from './database';

interface PgliteLike {
  query<R>(sql: string, params?: unknown[]): Promise<{ rows: R[]; affectedRows?: number }>;
}

async function run<R>(conn: PgliteLike, sql: string, params: readonly unknown[]): Promise<QueryResult<R>> {
  const res = await conn.query<R>(sql, [...params]);
  return { rows: res.rows, rowCount: res.affectedRows || res.rows.length };
}

/**
 * PGlite: PostgreSQL compiled to WebAssembly, in this process, persisted in a folder. It has one
 * connection; PGlite queues queries and transactions behind its own mutex, so concurrent callers
 * are serialized without our help.
 */
export class PgliteDatabase implements Database {
  readonly kind = 'pglite' as const;

  private constructor(private readonly db: PGlite) {}

  /** Opens (creating when missing) the database in `dataDir`; `undefined` keeps it in memory. */
  static async open(opts: { dataDir?: string; schema: string }): Promise<PgliteDatabase> {
    let dataDir: string | undefined;
    if (opts.dataDir) {
      dataDir = path.resolve(opts.dataDir);
      mkdirSync(path.dirname(dataDir), { recursive: true, mode: 0o700 });
    }
    const pg = await PGlite.create(dataDir);
    const schema = quoteIdent(opts.schema);
    await pg.exec(`create schema if not exists ${schema}; set search_path to ${schema};`);
    return new PgliteDatabase(pg);
  }

  query<R>(sql: string, params: readonly unknown[] = []): Promise<QueryResult<R>> {
    return run<R>(this.db, sql, params);
  }

  transaction<T>(fn: (tx: Queryable) => Promise<T>): Promise<T> {
    return this.db.transaction(async (tx: Transaction) => {
      const q: Queryable = { query: <R>(sql: string, params: readonly unknown[] = []) => run<R>(tx, sql, params) };
      return fn(q);
    });
  }

  async exec(sql: string): Promise<void> {
    await this.db.exec(sql);
  }

  async close(): Promise<void> {
    if (!this.db.closed) await this.db.close();
  }
}
