import { randomBytes } from 'node:crypto';
import IORedis from 'ioredis';

// Same helpers as libs/testing/src/redis.ts; switch to `@switchyard/testing` once that lib exports them.

export const TEST_REDIS_URL = 'redis://127.0.0.1:6379';

/** A fresh SWITCHYARD_PREFIX so a test sees only its own queues, keys and channels. */
export function randomPrefix(label = 't'): string {
  return `${label}-${randomBytes(4).toString('hex')}`;
}

/** Deletes every key under `prefix:`. */
export async function deleteKeysWithPrefix(prefix: string, redisUrl = TEST_REDIS_URL): Promise<void> {
  const redis = new IORedis(redisUrl, { maxRetriesPerRequest: 1 });
  try {
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 500);
      cursor = next;
      if (keys.length > 0) await redis.unlink(...keys);
    } while (cursor !== '0');
  } finally {
    redis.disconnect();
  }
}
