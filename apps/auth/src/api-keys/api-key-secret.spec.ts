import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { displayApiKey, generateApiKey, hashApiKey, KEY_RANDOM_CHARS, looksLikeApiKey } from './api-key-secret';

test('keys are sk- and 32 base62 characters: at least 128 random bits', () => {
  const key = generateApiKey();
  assert.match(key, /^sk-[0-9A-Za-z]{32}$/);
  assert.ok(KEY_RANDOM_CHARS * Math.log2(62) >= 128);
});

test('keys do not repeat and every base62 character is used about equally', () => {
  const keys = new Set(Array.from({ length: 5000 }, generateApiKey));
  assert.equal(keys.size, 5000);
  const counts = new Map<string, number>();
  for (const k of keys) for (const c of k.slice(3)) counts.set(c, (counts.get(c) ?? 0) + 1);
  assert.equal(counts.size, 62);
  const expected = (5000 * 32) / 62;
  for (const n of counts.values()) assert.ok(Math.abs(n - expected) < expected * 0.15, `count ${n} vs ${expected}`);
});

test('the hash is SHA-256 of the key, and the display form hides the key', () => {
  const key = 'sk-abcdefghijklmnopqrstuvwxyz012345';
  assert.equal(hashApiKey(key).toString('hex'), createHash('sha256').update(key).digest('hex'));
  assert.equal(hashApiKey(key).length, 32);
  assert.notDeepEqual(hashApiKey(key), hashApiKey(`${key}x`));
  assert.equal(displayApiKey(key), 'sk-abc…2345');
  assert.equal(displayApiKey('sk-short'), 'sk-…');
});

test('only sk- strings of sane length are looked up', () => {
  assert.equal(looksLikeApiKey(generateApiKey()), true);
  for (const bad of ['', 'sk-', 'sk', "' OR '1'='1", `sk-${'a'.repeat(600)}`, 'Bearer sk-abcdefgh', 42, undefined, null]) {
    assert.equal(looksLikeApiKey(bad), false, String(bad));
  }
});
