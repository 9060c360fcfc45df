import { z } from 'zod';
import { commonEnv, loadConfig, port } from '@switchyard/config';

/** The batch service's environment (apps/batch/README.md says what each variable does). */
export const batchEnvSchema = z.object({
  ...commonEnv,
  PORT: port(8084),
  MODEL_CATALOGUE: z.string().min(1).default('deploy/models.yaml'),
  /** Shared secret the edge sends in `x-switchyard-internal-token`; every other caller gets 401. */
  BATCH_INTERNAL_TOKEN: z.string().min(16, 'must be at least 16 characters').max(512),
  /** PostgreSQL connection string. When unset, the embedded PGlite database in BATCH_DATA_DIR is used. */
  DATABASE_URL: z
    .string()
    .regex(/^postgres(ql)?:\/\//, 'must be a postgres:// or postgresql:// URL')
    .optional(),
  /** PostgreSQL schema of the batch tables (created if missing). */
  BATCH_DB_SCHEMA: z
    .string()
    .regex(/^[a-z_][a-z0-9_]{0,62}$/, 'must be a lower-case SQL identifier')
    .default('public'),
  BATCH_DB_POOL_MAX: z.coerce.number().int().min(1).max(200).default(10),
  /** Folder of the embedded database (when DATABASE_URL is unset). */
  BATCH_DATA_DIR: z.string().min(1).default('.data/batch'),
  /** Lines of one batch and one model kept in the model's queue at a time. */
  BATCH_WINDOW_PER_MODEL: z.coerce.number().int().min(1).max(10_000).default(32),
  /** How often the runner fills windows, finalizes, expires and re-enqueues lost lines (ms). */
  BATCH_TICK_MS: z.coerce.number().int().min(50).default(1000),
  /** How often queued lines whose job is gone from its queue are enqueued again (ms). */
  BATCH_RECOVER_INTERVAL_MS: z.coerce.number().int().min(100).default(10_000),
});

export type BatchConfig = z.infer<typeof batchEnvSchema>;

export const BATCH_CONFIG = Symbol('BATCH_CONFIG');

export function loadBatchConfig(env: NodeJS.ProcessEnv = process.env): BatchConfig {
  return loadConfig(batchEnvSchema, env);
}
