import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DEFAULT_POLICY } from '../policies/policy';
import type { Verdict } from './verdict';
import { VerifyCache } from './verify-cache';

const verdict = (keyId: string, userId = 'usr_1', extra: Partial<Verdict> = {}): Verdict => ({
  principal: { userId, userName: 'u', keyId, keyDisplay: 'sk-abc…wxyz' },
  policy: { ...DEFAULT_POLICY },
  budgetUsed: 0,
  expiresAt: null,
  ...extra,
});

test('entries live for the TTL', () => {
  let now = 1000;
  const cache = new VerifyCache(5000, 100, () => now);
  cache.set('h1', verdict('k1'), cache.generation);
  assert.ok(cache.get('h1'));
  now += 4999;
  assert.ok(cache.get('h1'));
  now += 1;
  assert.equal(cache.get('h1'), undefined);
  assert.equal(cache.size, 0);
});

test('an entry is dropped when its key expires, before the TTL', () => {
  let now = 1000;
  const cache = new VerifyCache(60_000, 100, () => now);
  cache.set('h1', verdict('k1', 'u', { expiresAt: new Date(2000) }), cache.generation);
  assert.ok(cache.get('h1'));
  now = 2000;
  assert.equal(cache.get('h1'), undefined);
});

test('events drop entries by key and by user', () => {
  const cache = new VerifyCache(60_000, 100);
  cache.set('h1', verdict('k1', 'u1'), cache.generation);
  cache.set('h2', verdict('k2', 'u1'), cache.generation);
  cache.set('h3', verdict('k3', 'u2'), cache.generation);
  cache.dropKey('k3');
  assert.equal(cache.get('h3'), undefined);
  assert.ok(cache.get('h1'));
  cache.dropUser('u1');
  assert.equal(cache.size, 0);
});

test('a lookup that began before an event does not store its stale answer', () => {
  const cache = new VerifyCache(60_000, 100);
  const generation = cache.generation;
  cache.dropKey('k1'); // revoked while the lookup was in flight
  cache.set('h1', verdict('k1'), generation);
  assert.equal(cache.get('h1'), undefined);
});

test('the oldest entries leave first when full; a zero TTL disables caching', () => {
  const cache = new VerifyCache(60_000, 2);
  for (const i of [1, 2, 3]) cache.set(`h${i}`, verdict(`k${i}`), cache.generation);
  assert.equal(cache.size, 2);
  assert.equal(cache.get('h1'), undefined);
  assert.ok(cache.get('h3'));
  const off = new VerifyCache(0, 100);
  off.set('h1', verdict('k1'), off.generation);
  assert.equal(off.get('h1'), undefined);
});

test('recorded usage is added to a cached budget', () => {
  const cache = new VerifyCache(60_000, 100);
  cache.set('h1', verdict('k1', 'u', { policy: { ...DEFAULT_POLICY, tokenBudget: 100 }, budgetUsed: 10 }), cache.generation);
  cache.addUsage('k1', 25);
  assert.equal(cache.get('h1')?.budgetUsed, 35);
});
