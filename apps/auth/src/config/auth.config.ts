import { z } from 'zod';
import { commonEnv, loadConfig, port } from '@switchyard/config';

/** Shape of a demo key given by the launcher: `sk-` and 16–200 URL-safe characters. */
export const DEMO_KEY_PATTERN = /^sk-[A-Za-z0-9._-]{16,200}$/;

const nonNegativeInt = (fallback: number) => z.coerce.number().int().min(0).default(fallback);

export const authEnvSchema = z.object({
  ...commonEnv,
  PORT: port(8081),
  /** PostgreSQL connection string. When unset, the embedded PGlite database in AUTH_DATA_DIR is used. */
  DATABASE_URL: z
    .string()
    .regex(/^postgres(ql)?:\/\//, 'must be a postgres:// or postgresql:// URL')
    .optional(),
  /** PostgreSQL schema for the auth tables (created if missing). Lets several deployments or test runs share a database. */
  AUTH_DB_SCHEMA: z
    .string()
    .regex(/^[a-z_][a-z0-9_]{0,62}$/, 'must be a lower-case SQL identifier')
    .default('public'),
  /** Largest number of PostgreSQL connections of the pool. */
  AUTH_DB_POOL_MAX: z.coerce.number().int().min(1).max(200).default(10),
  /** Folder of the embedded database (when DATABASE_URL is unset) and of the generated admin token. */
  AUTH_DATA_DIR: z.string().min(1).default('.data/auth'),
  /** Bind address of the gRPC server (auth.v1). */
  AUTH_GRPC_URL: z
    .string()
    .regex(/^(grpc:\/\/)?[^\s/]+:\d{1,5}$/, 'must be host:port')
    .default('127.0.0.1:50051'),
  /** Token for the admin REST API. When unset, one is generated at boot and written to AUTH_DATA_DIR/admin-token. */
  SWITCHYARD_ADMIN_TOKEN: z.string().min(16, 'must be at least 16 characters').max(512).optional(),
  /** When set, a user `demo` owning exactly this key (all models, no limits) is ensured at boot. */
  SWITCHYARD_DEMO_KEY: z
    .string()
    .regex(DEMO_KEY_PATTERN, 'must be sk- followed by 16-200 characters [A-Za-z0-9._-]')
    .optional(),
  /** How long a verified key stays cached in-process (ms); 0 disables the cache. */
  AUTH_VERIFY_CACHE_TTL_MS: nonNegativeInt(5000),
  /** Most keys kept in the in-process verify cache. */
  AUTH_VERIFY_CACHE_MAX: nonNegativeInt(10000),
  /** Most usage entries read from the usage stream and written to the ledger in one transaction. */
  AUTH_USAGE_BATCH_MAX: z.coerce.number().int().min(1).max(10_000).default(200),
  /** After a smaller batch, how long entries gather in the usage stream before the next read (ms; 0: read again at once). */
  AUTH_USAGE_BATCH_WAIT_MS: nonNegativeInt(500),
});

export type AuthConfig = z.infer<typeof authEnvSchema>;

export const AUTH_CONFIG = Symbol('AUTH_CONFIG');

export function loadAuthConfig(env: NodeJS.ProcessEnv = process.env): AuthConfig {
  return loadConfig(authEnvSchema, env);
}

/** The admin CLI's environment. */
export const cliEnvSchema = z.object({
  SWITCHYARD_AUTH_URL: z.string().url().default('http://127.0.0.1:8081'),
  SWITCHYARD_ADMIN_TOKEN: z.string().min(1).optional(),
  /** Where the CLI looks for a generated admin token when SWITCHYARD_ADMIN_TOKEN is unset. */
  AUTH_DATA_DIR: z.string().min(1).default('.data/auth'),
});

export type CliConfig = z.infer<typeof cliEnvSchema>;

export function loadCliConfig(env: NodeJS.ProcessEnv = process.env): CliConfig {
  return loadConfig(cliEnvSchema, env);
}

/** `host:port` for grpc-js from AUTH_GRPC_URL (which may carry a `grpc://` scheme). */
export function grpcBindAddress(config: Pick<AuthConfig, 'AUTH_GRPC_URL'>): string {
  return config.AUTH_GRPC_URL.replace(/^grpc:\/\//, '');
}
