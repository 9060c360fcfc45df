import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { loadEdgeConfig } from '../config/edge.config';
import { RateLimitRepository } from './rate-limit.repository';

let redis: Redis;
let repo: RateLimitRepository;
const prefix = `t${randomBytes(5).toString('hex')}`;

before(() => {
  redis = new Redis(process.env.REDIS_URL ?? 'redis://127.0.0.1:6379');
  repo = new RateLimitRepository(redis, loadEdgeConfig({ SWITCHYARD_PREFIX: prefix }));
});
after(async () => {
  const keys = await redis.keys(`${prefix}:*`);
  if (keys.length) await redis.del(...keys);
  redis.disconnect();
});

test('concurrent admissions never overshoot a requests-per-minute limit (one script, atomic)', async () => {
  const results = await Promise.all(Array.from({ length: 40 }, (_, i) => repo.admit('k1', `r${i}`, 7, 0, 1)));
  assert.equal(results.filter((r) => r.allowed).length, 7);
  const refused = results.find((r) => !r.allowed);
  assert.ok(refused && refused.requests.retryMs > 59_000 && refused.requests.retryMs <= 60_000);
});

test('tokens: sums the window, settles reservations to real use, refunds', async () => {
  assert.ok((await repo.admit('k2', 'a', 0, 100, 60)).allowed);
  const over = await repo.admit('k2', 'b', 0, 100, 60);
  assert.equal(over.allowed, false);
  assert.ok(over.tokens.retryMs > 0);
  await repo.settle('k2', 'a', 60, 10);
  const fits = await repo.admit('k2', 'b', 0, 100, 60);
  assert.ok(fits.allowed);
  assert.equal(fits.tokens.used, 70);
  await repo.refund('k2', 'b', 60);
  assert.equal((await repo.admit('k2', 'c', 0, 100, 90)).tokens.used, 100);
  assert.equal((await repo.admit('k3', 'd', 0, 100, 101)).tokens.retryMs, -1);
});
