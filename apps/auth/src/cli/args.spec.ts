import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseArgs, parseExpiry, UsageError } from './args';

test('parses positionals, --opt value, --opt=value and boolean flags', () => {
  const a = parseArgs(['keys', 'create', '--user', 'alice', '--models=llama3.1:8b,qwen2.5:7b', '--json', '--rpm', '60'], new Set(['json']));
  assert.deepEqual(a.positionals, ['keys', 'create']);
  assert.equal(a.options.get('user'), 'alice');
  assert.equal(a.options.get('models'), 'llama3.1:8b,qwen2.5:7b');
  assert.equal(a.options.get('rpm'), '60');
  assert.ok(a.flags.has('json'));
  assert.throws(() => parseArgs(['--user'], new Set()), UsageError);
});

test('expiry: durations and dates', () => {
  const now = Date.UTC(2026, 0, 1);
  assert.equal(parseExpiry('30d', now).getTime(), now + 30 * 86_400_000);
  assert.equal(parseExpiry('12h', now).getTime(), now + 12 * 3_600_000);
  assert.equal(parseExpiry('2027-01-01T00:00:00Z').toISOString(), '2027-01-01T00:00:00.000Z');
  assert.throws(() => parseExpiry('soon'), UsageError);
});
