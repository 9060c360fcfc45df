import { Redis, type RedisOptions } from 'ioredis';
import { redisUnixSocket } from '@switchyard/config';

/**
 * What a connection is for decides how it behaves while Redis is away:
 * - `request`: on a client's request path (the edge). Fails at once when not connected (no offline
 *   queue) and after 1 s without an answer, so a request during an outage gets a 503 in well under
 *   a second instead of hanging or a 500 after seconds of retries.
 * - `background`: services' own work (publishing relay chunks, residency, queue statistics). Commands
 *   wait while it reconnects and are sent when Redis is back (up to ~20 reconnect attempts).
 * - `blocking`: BullMQ workers (blocking commands; BullMQ requires `maxRetriesPerRequest: null`).
 * - `subscriber`: pub/sub; re-subscribes to its channels after every reconnect.
 */
export type RedisRole = 'request' | 'background' | 'blocking' | 'subscriber';

/** Reconnect delay: quick, so a Redis that comes back is used again within about a second. */
export function reconnectDelayMs(attempt: number): number {
  return Math.min(attempt * 100, 1000);
}

const ROLE_OPTIONS: Record<RedisRole, RedisOptions> = {
  request: { enableOfflineQueue: false, maxRetriesPerRequest: 1, commandTimeout: 1000 },
  background: { maxRetriesPerRequest: 20 },
  blocking: { maxRetriesPerRequest: null },
  subscriber: { maxRetriesPerRequest: null, autoResubscribe: true },
};

/**
 * The one way a service opens a Redis connection. `lazyConnect`: call `connect()` yourself.
 * `autoPipelining`: the commands issued within one turn of the event loop go to Redis in one write
 * (ioredis `enableAutoPipelining`): one system call, and one reply read, instead of one per command.
 */
export function createRedisConnection(url: string, opts: { name: string; role: RedisRole; lazyConnect?: boolean; autoPipelining?: boolean }): Redis {
  return new Redis(redisUnixSocket(url) ?? url, {
    connectionName: opts.name,
    lazyConnect: opts.lazyConnect ?? false,
    retryStrategy: reconnectDelayMs,
    enableAutoPipelining: opts.autoPipelining ?? false,
    ...ROLE_OPTIONS[opts.role],
  });
}

const UNAVAILABLE_MESSAGES = [
  "Stream isn't writeable",
  'Connection is closed',
  'Command timed out',
  'Reached the max retries per request limit',
  'ECONNREFUSED',
  'ECONNRESET',
  'EPIPE',
  'ETIMEDOUT',
  'LOADING',
  'MASTERDOWN',
  'READONLY',
];

/** Thrown where work would otherwise wait for Redis to come back (e.g. BullMQ readying a new queue). */
export class RedisUnavailableError extends Error {
  constructor(what: string) {
    super(`Redis is not connected (${what})`);
    this.name = 'RedisUnavailableError';
  }
}

/** Throws `RedisUnavailableError` unless the connection is ready now: on a request path, fail at once rather than wait. */
export function assertRedisReady(redis: Pick<Redis, 'status'>, what: string): void {
  if (redis.status !== 'ready') throw new RedisUnavailableError(what);
}

/** True for an error that means Redis cannot be reached (or is not serving yet), not a bug. */
export function isRedisUnavailable(err: unknown): boolean {
  if (!(err instanceof Error)) return false;
  if (err.name === 'MaxRetriesPerRequestError' || err instanceof RedisUnavailableError) return true;
  const text = `${err.message} ${(err as NodeJS.ErrnoException).code ?? ''}`;
  return UNAVAILABLE_MESSAGES.some((m) => text.includes(m));
}

/** Calls `listener` every time the connection is ready again after having been ready before (a reconnect). */
export function onReconnected(redis: Redis, listener: () => void): void {
  let everReady = redis.status === 'ready';
  redis.on('ready', () => {
    if (everReady) listener();
    everReady = true;
  });
}
