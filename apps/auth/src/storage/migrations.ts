import { migrate as migrateSet, splitStatements, type Database, type Migration, type MigrationSet } from '@switchyard/database';

export type { Migration };

const POLICY_COLUMNS = `
  all_models boolean,
  allowed_models text[],
  requests_per_minute bigint check (requests_per_minute >= 0),
  tokens_per_minute bigint check (tokens_per_minute >= 0),
  token_budget bigint check (token_budget >= 0),
  budget_period text check (budget_period in ('day', 'month')),
  priority text check (priority in ('interactive', 'bulk')),
  pool text check (pool in ('shared', 'performance')),
  updated_at timestamptz not null default now()`;

/** The same SQL runs on PostgreSQL and PGlite. Tables live in the configured schema (search_path). */
export const MIGRATIONS: readonly Migration[] = [
  {
    id: 1,
    name: 'users, api keys, policies, usage ledger',
    sql: `
create table users (
  id text primary key,
  name text not null,
  created_at timestamptz not null default now()
);
create unique index users_name_uq on users (name);

create table api_keys (
  id text primary key,
  user_id text not null references users (id),
  name text not null default '',
  -- SHA-256 of the key; the key itself is never stored.
  key_hash bytea not null check (octet_length(key_hash) = 32),
  -- Redacted display form, e.g. sk-abc…wxyz.
  display text not null,
  created_at timestamptz not null default now(),
  expires_at timestamptz,
  revoked_at timestamptz,
  rotated_from text references api_keys (id)
);
create unique index api_keys_key_hash_uq on api_keys (key_hash);
create index api_keys_user_id_idx on api_keys (user_id);

-- Defaults for every key of a user. NULL in a column = inherit the system default.
create table user_policies (
  user_id text primary key references users (id) on delete cascade,${POLICY_COLUMNS}
);

-- Per-key overrides. NULL in a column = inherit the user's default.
create table key_policies (
  key_id text primary key references api_keys (id) on delete cascade,${POLICY_COLUMNS}
);

-- One row per request id: recording the same request twice is a no-op.
create table usage_ledger (
  request_id text primary key,
  key_id text not null,
  user_id text not null,
  model text not null,
  prompt_tokens bigint not null check (prompt_tokens >= 0),
  completion_tokens bigint not null check (completion_tokens >= 0),
  queue_ms bigint not null check (queue_ms >= 0),
  generation_ms bigint not null check (generation_ms >= 0),
  worker_id text not null,
  outcome text not null,
  pool text not null,
  created_at timestamptz not null,
  -- UTC day of created_at.
  day date not null,
  recorded_at timestamptz not null default now()
);
create index usage_ledger_key_day_idx on usage_ledger (key_id, day);
create index usage_ledger_user_day_idx on usage_ledger (user_id, day);

-- Aggregates per key, model and UTC day, kept in the same transaction as the ledger insert.
create table usage_daily (
  key_id text not null,
  day date not null,
  model text not null,
  user_id text not null,
  requests bigint not null,
  prompt_tokens bigint not null,
  completion_tokens bigint not null,
  primary key (key_id, day, model)
);
create index usage_daily_user_day_idx on usage_daily (user_id, day);
`,
  },
  {
    id: 2,
    name: 'policy share (fair-share weight)',
    sql: `
-- NULL = inherit (the user's default, else 1); existing policies keep inheriting.
alter table user_policies add column share double precision check (share > 0);
alter table key_policies add column share double precision check (share > 0);
`,
  },
];

/** Where auth records its applied migrations, and the lock replicas take turns on. */
export const AUTH_MIGRATIONS: MigrationSet = { table: 'auth_schema_migrations', lockKey: 'switchyard-auth-migrations', migrations: MIGRATIONS };

/** Applies auth's migrations not yet applied; returns the ids applied. */
export function migrate(db: Database, migrations: readonly Migration[] = MIGRATIONS): Promise<number[]> {
  return migrateSet(db, { ...AUTH_MIGRATIONS, migrations });
}

export { splitStatements };
