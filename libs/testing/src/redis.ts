/**
 * Redis helpers for integration tests: every test gets its own SWITCHYARD_PREFIX so tests can share
 * the machine's Redis (and run in parallel) without seeing each other's queues, keys or channels.
 */
import { randomBytes } from 'node:crypto';
import IORedis from 'ioredis';

export const TEST_REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';

/** A fresh deployment prefix, e.g. `t-worker-3f9a1c2b`. Valid for SWITCHYARD_PREFIX. */
export function randomPrefix(label = 't'): string {
  return `${label.replace(/[^A-Za-z0-9_-]/g, '-')}-${randomBytes(4).toString('hex')}`;
}

/** Deletes every key under `prefix:` (queues included). Call it when a test ends. */
export async function deleteKeysWithPrefix(prefix: string, redisUrl: string = TEST_REDIS_URL): Promise<number> {
  const redis = new IORedis(redisUrl, { lazyConnect: true, maxRetriesPerRequest: 1 });
  try {
    await redis.connect();
    let cursor = '0';
    let deleted = 0;
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 500);
      cursor = next;
      if (keys.length > 0) deleted += await redis.unlink(...keys);
    } while (cursor !== '0');
    return deleted;
  } finally {
    redis.disconnect();
  }
}
