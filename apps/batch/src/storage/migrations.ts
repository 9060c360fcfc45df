import type { Migration, MigrationSet } from '@switchyard/database';

/** The same SQL runs on PostgreSQL and PGlite. Every table is prefixed `batch_`. */
export const MIGRATIONS: readonly Migration[] = [
  {
    id: 1,
    name: 'files, file chunks, batches, batch lines',
    sql: `
create table batch_files (
  id text primary key,
  user_id text not null,
  purpose text not null,
  filename text not null,
  bytes bigint not null default 0,
  line_count bigint not null default 0,
  -- false while an upload (or an output file) is being written: invisible until complete.
  complete boolean not null default false,
  created_at timestamptz not null default now()
);
create index batch_files_user_idx on batch_files (user_id, created_at, id);

create table batch_file_chunks (
  file_id text not null references batch_files (id) on delete cascade,
  seq integer not null,
  data bytea not null,
  primary key (file_id, seq)
);

create table batch_batches (
  id text primary key,
  user_id text not null,
  key_id text not null,
  -- The verified caller at creation (policy, budget): lines run under it.
  caller jsonb not null,
  endpoint text not null,
  input_file_id text not null,
  completion_window text not null,
  status text not null,
  -- Set when the batch is being stopped: 'cancelled' or 'expired' (its end status).
  ending text,
  metadata jsonb,
  errors jsonb,
  output_file_id text,
  error_file_id text,
  created_at timestamptz not null default now(),
  expires_at timestamptz not null,
  in_progress_at timestamptz,
  finalizing_at timestamptz,
  completed_at timestamptz,
  failed_at timestamptz,
  expired_at timestamptz,
  cancelling_at timestamptz,
  cancelled_at timestamptz,
  -- A replica validating (or finalizing) the batch holds this lease.
  claimed_until timestamptz
);
create index batch_batches_user_idx on batch_batches (user_id, created_at, id);
create index batch_batches_status_idx on batch_batches (status);

-- One row per input line. state: pending (not enqueued) | queued (a job exists) | done | failed | cancelled.
create table batch_lines (
  batch_id text not null references batch_batches (id) on delete cascade,
  line integer not null,
  custom_id text not null,
  model text not null,
  state text not null,
  -- The InferenceJob to enqueue (pending/queued lines).
  job jsonb,
  -- How to render the result: {"kind":"chat"|"text"|"embed", "echo"?, "base64"?}.
  render jsonb,
  enqueues integer not null default 0,
  enqueued_at timestamptz,
  status_code integer,
  -- The response body (done) or the error body (failed).
  body jsonb,
  finished_at timestamptz,
  primary key (batch_id, line)
);
create index batch_lines_state_idx on batch_lines (batch_id, state, model, line);
`,
  },
];

export const BATCH_MIGRATIONS: MigrationSet = { table: 'batch_schema_migrations', lockKey: 'switchyard-batch-migrations', migrations: MIGRATIONS };
