import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import Redis from 'ioredis';
import { RedisKeys, USAGE_CONSUMER_GROUP, USAGE_ENTRY_FIELD, type UsageEntry } from '@switchyard/contracts';
import { startAuthApp, type RunningAuthApp } from '../auth-app';
import type { AuthConfig } from '../config/auth.config';
import { adminHttp } from '../testing/test-clients';
import { silentLogger, testAuthConfig, testEnv } from '../testing/test-env';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface Report {
  totals: { requests: number; promptTokens: number; completionTokens: number };
}

describe('usage stream: workers append, auth writes the ledger in batches', () => {
  let config: AuthConfig;
  let cleanup: () => Promise<void>;
  let running: RunningAuthApp | undefined;
  let redis: Redis;
  let stream: string;
  let keyId: string;

  const start = async () => {
    running = await startAuthApp(config, silentLogger());
    return adminHttp(running.httpUrl, config.SWITCHYARD_ADMIN_TOKEN);
  };
  const entry = (extra: Partial<UsageEntry> = {}): UsageEntry => ({
    requestId: `req_${randomBytes(8).toString('hex')}`,
    keyId,
    userId: 'u',
    model: 'llama3.1:8b',
    pool: 'shared',
    promptTokens: 10,
    completionTokens: 5,
    queueMs: 1,
    generationMs: 20,
    workerId: 'w1',
    outcome: 'ok',
    createdAtMs: Date.now(),
    ...extra,
  });
  const append = (e: UsageEntry | string) => redis.xadd(stream, '*', USAGE_ENTRY_FIELD, typeof e === 'string' ? e : JSON.stringify(e));
  const usageOf = async (admin: ReturnType<typeof adminHttp>, requests: number): Promise<Report> => {
    for (let i = 0; i < 200; i++) {
      const res = await admin<Report>('GET', `/admin/v1/usage?keyId=${keyId}`);
      if (res.body.totals.requests >= requests) return res.body;
      await sleep(25);
    }
    assert.fail(`usage did not reach ${requests} requests`);
  };

  before(async () => {
    // No pause between reads: the test waits for the ledger, not for batches to gather.
    ({ config, cleanup } = await testAuthConfig('pglite', { AUTH_USAGE_BATCH_WAIT_MS: '0' }));
    redis = new Redis(testEnv.REDIS_URL);
    stream = RedisKeys.usageStream(config.SWITCHYARD_PREFIX);
    const admin = await start();
    const user = await admin<{ id: string }>('POST', '/admin/v1/users', { name: 'stream' });
    const key = await admin<{ id: string }>('POST', '/admin/v1/keys', { userId: user.body.id });
    keyId = key.body.id;
  });

  after(async () => {
    await running?.close();
    await redis?.del(stream);
    await redis?.quit();
    await cleanup?.();
  });

  test('each request counted once, duplicates and undeliverable entries dropped, the stream emptied', async () => {
    const admin = adminHttp(running!.httpUrl, config.SWITCHYARD_ADMIN_TOKEN);
    const first = entry();
    await append(first);
    await append({ ...first, promptTokens: 5000 }); // the same request again (a rerun): not counted twice
    await append('not json');
    await append(entry({ keyId: 'key_0000000000000000' })); // unknown key
    for (let i = 0; i < 300; i++) await append(entry());
    const report = await usageOf(admin, 301);
    assert.deepEqual(report.totals, { requests: 301, promptTokens: 3010, completionTokens: 1505 });
    for (let i = 0; i < 100 && (await redis.xlen(stream)) > 0; i++) await sleep(20);
    assert.equal(await redis.xlen(stream), 0, 'every entry acknowledged and deleted');
    const [, pending] = (await redis.xpending(stream, USAGE_CONSUMER_GROUP)) as [number, unknown];
    assert.equal(pending, null);
  });

  test('entries appended while auth is down are written when it comes back', async () => {
    await running!.close();
    running = undefined;
    const before = 301;
    await append(entry({ promptTokens: 7 }));
    await append(entry({ promptTokens: 7 }));
    const admin = await start();
    const report = await usageOf(admin, before + 2);
    assert.equal(report.totals.requests, before + 2);
    assert.equal(report.totals.promptTokens, 3010 + 14);
  });
});
