import { test } from 'node:test';
import assert from 'node:assert/strict';
import { backoffDelay } from './backoff';

test('backoff doubles from the minimum up to the maximum, with jitter in the upper half', () => {
  assert.equal(backoffDelay(0, 100, 1000, () => 1), 100);
  assert.equal(backoffDelay(0, 100, 1000, () => 0), 50);
  assert.equal(backoffDelay(3, 100, 1000, () => 1), 800);
  assert.equal(backoffDelay(10, 100, 1000, () => 1), 1000);
  assert.equal(backoffDelay(100, 100, 1000, () => 0.5), 750);
});
