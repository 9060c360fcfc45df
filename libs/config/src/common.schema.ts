import { z } from 'zod';

/** A TCP port number from a string variable. */
export const port = (fallback: number) => z.coerce.number().int().min(0).max(65535).default(fallback);

/** A boolean from "true"/"false"/"1"/"0". */
export const flag = (fallback: boolean) =>
  z
    .enum(['true', 'false', '1', '0', 'yes', 'no'])
    .default(fallback ? 'true' : 'false')
    .transform((v) => v === 'true' || v === '1' || v === 'yes');

export const logLevel = z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info');

/**
 * The socket path of a `unix:///path/to/redis.sock` REDIS_URL (a Redis on the same machine, reached
 * without TCP: each command costs less system time); undefined for `redis://` and `rediss://` URLs.
 */
export function redisUnixSocket(url: string): string | undefined {
  return url.startsWith('unix://') ? decodeURIComponent(new URL(url).pathname) : undefined;
}

/** Variables every Switchyard service reads. */
export const commonEnv = {
  LOG_LEVEL: logLevel,
  /** `redis://host:port`, `rediss://…` (TLS), or `unix:///path/to/redis.sock` (a Redis on this machine, over its unix socket). */
  REDIS_URL: z
    .string()
    .refine((u) => /^(rediss?|unix):\/\//.test(u) && URL.canParse(u), 'expected redis://host:port, rediss://host:port or unix:///path/to/redis.sock')
    .default('redis://127.0.0.1:6379'),
  /** Prefix of every BullMQ queue and Redis key, so several deployments (or tests) can share a Redis. */
  SWITCHYARD_PREFIX: z.string().regex(/^[A-Za-z0-9:_{}-]+$/).default('sy'),
  HOST: z.string().default('127.0.0.1'),
};

/**
 * The bound on an interactive request's expected wait for its first token (ms): the edge refuses a
 * request expected to wait longer (503 with Retry-After), and the scheduler replicates a model whose
 * expected wait exceeds it. One default for both: `EDGE_MAX_EXPECTED_WAIT_MS` and
 * `SCHEDULER_MAX_EXPECTED_WAIT_MS` default to it.
 */
export const DEFAULT_MAX_EXPECTED_WAIT_MS = 60_000;
