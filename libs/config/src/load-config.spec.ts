import { test } from 'node:test';
import assert from 'node:assert/strict';
import { z } from 'zod';
import { ConfigError, loadConfig, port, flag, commonEnv } from './index';

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
