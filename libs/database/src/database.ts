/**
 * The one SQL surface every repository uses. Two implementations run the same SQL: PostgreSQL
 * (`pg` pool) when DATABASE_URL is set, PGlite (embedded PostgreSQL) otherwise.
 *
 * Type conventions both drivers agree on (repositories rely on them): `bigint`/`int8` comes back
 * as a JS number (cast `sum(...)` to `::bigint`, since `numeric` does not), `timestamptz` as a
 * Date, `text[]` as string[], `bytea` as a Uint8Array/Buffer.
 */
export interface QueryResult<R> {
  rows: R[];
  /** Rows changed by INSERT/UPDATE/DELETE, or returned by SELECT. */
  rowCount: number;
}

export interface Queryable {
  query<R = Record<string, unknown>>(sql: string, params?: readonly unknown[]): Promise<QueryResult<R>>;
}

export type DatabaseKind = 'postgres' | 'pglite';

export interface Database extends Queryable {
  readonly kind: DatabaseKind;
  /** Runs `fn` in one transaction: committed when it resolves, rolled back when it throws. */
  transaction<T>(fn: (tx: Queryable) => Promise<T>): Promise<T>;
  /** Runs a script of several statements without parameters (migrations). */
  exec(sql: string): Promise<void>;
  close(): Promise<void>;
}

/** Nest injection token of the open, migrated Database. */
export const DATABASE = Symbol('DATABASE');

/** Double-quotes an SQL identifier that was already validated as `[a-z_][a-z0-9_]*`. */
export function quoteIdent(name: string): string {
  if (!/^[a-z_][a-z0-9_]{0,62}$/.test(name)) throw new Error('invalid SQL identifier');
  return `"${name}"`;
}
