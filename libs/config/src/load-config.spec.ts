import { test } from 'node:test';
import assert from 'node:assert/strict';
import { z } from 'zod';
import { ConfigError, loadConfig, port, flag, commonEnv, redisUnixSocket } from './index';

const schema = z.object({ PORT: port(8080), DEBUG: flag(false), REDIS_URL: commonEnv.REDIS_URL, SECRET: z.string().min(8) });

test('parses and applies defaults', () => {
  const cfg = loadConfig(schema, { SECRET: 'abcdefghij' });
  assert.equal(cfg.PORT, 8080);
  assert.equal(cfg.DEBUG, false);
  assert.equal(cfg.REDIS_URL, 'redis://127.0.0.1:6379');
});

test('lists every bad variable at once and never echoes values', () => {
  assert.throws(
    () => loadConfig(schema, { PORT: 'eighty', DEBUG: 'maybe', REDIS_URL: 'not a url', SECRET: 'short-s3' + '' }),
    (err: unknown) => {
      assert.ok(err instanceof ConfigError);
      const names = err.problems.map((p) => p.split(':')[0]).sort();
      assert.deepEqual(names, ['DEBUG', 'PORT', 'REDIS_URL']);
      assert.ok(!err.message.includes('not a url'));
      return true;
    },
  );
});

test('a missing required variable is named', () => {
  assert.throws(() => loadConfig(schema, {}), /SECRET/);
});

test('REDIS_URL: redis://, rediss:// and a unix socket are accepted; another scheme is refused by name', () => {
  for (const url of ['redis://10.0.0.5:6380', 'rediss://cache.example:6380/2', 'unix:///tmp/switchyard-redis-6379.sock']) {
    assert.equal(loadConfig(schema, { SECRET: 'abcdefghij', REDIS_URL: url }).REDIS_URL, url);
  }
  assert.throws(() => loadConfig(schema, { SECRET: 'abcdefghij', REDIS_URL: 'http://127.0.0.1:6379' }), /REDIS_URL/);
});

test('redisUnixSocket: the path of a unix:// REDIS_URL, nothing for a TCP one', () => {
  assert.equal(redisUnixSocket('unix:///tmp/switchyard-redis-6379.sock'), '/tmp/switchyard-redis-6379.sock');
  assert.equal(redisUnixSocket('unix:///var/run/my%20redis/redis.sock'), '/var/run/my redis/redis.sock');
  assert.equal(redisUnixSocket('redis://127.0.0.1:6379'), undefined);
});
