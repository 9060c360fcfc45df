import type { Database } from './database';
import { quoteIdent } from './database';

export interface Migration {
  /** Increasing and persistent: never renumber or edit an applied migration, add a new one. */
  id: number;
  name: string;
  sql: string;
}

/** A service's migrations and where it records which ran (each service its own table). */
export interface MigrationSet {
  /** Table recording applied ids, e.g. `auth_schema_migrations`. */
  table: string;
  /** Advisory-lock name that makes concurrent replicas take turns. */
  lockKey: string;
  migrations: readonly Migration[];
}

/**
 * Applies every migration not yet recorded in `set.table`, each in its own transaction. An
 * advisory lock makes concurrent replicas take turns. Returns the ids applied.
 */
export async function migrate(db: Database, set: MigrationSet): Promise<number[]> {
  const table = quoteIdent(set.table);
  await db.exec(`create table if not exists ${table} (
    id integer primary key,
    name text not null,
    applied_at timestamptz not null default now()
  )`);
  const applied: number[] = [];
  for (const m of [...set.migrations].sort((a, b) => a.id - b.id)) {
    const done = await db.transaction(async (tx) => {
      await tx.query('select pg_advisory_xact_lock(hashtext($1))', [set.lockKey]);
      const seen = await tx.query(`select 1 from ${table} where id = $1`, [m.id]);
      if (seen.rows.length > 0) return false;
      // Statements run one by one: the extended protocol takes a single statement per query.
      for (const statement of splitStatements(m.sql)) await tx.query(statement);
      await tx.query(`insert into ${table} (id, name) values ($1, $2)`, [m.id, m.name]);
      return true;
    });
    if (done) applied.push(m.id);
  }
  return applied;
}

/** Splits a migration script on `;` at line ends. Migrations avoid `;` inside literals. */
export function splitStatements(sql: string): string[] {
  return sql
    .split(/;\s*(?:\n|$)/)
    .map((s) =>
      s
        .split('\n')
        .filter((line) => !line.trim().startsWith('--'))
        .join('\n')
        .trim(),
    )
    .filter((s) => s.length > 0);
}
