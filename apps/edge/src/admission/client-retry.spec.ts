import { test } from 'node:test';
import assert from 'node:assert/strict';
import { clientRetry } from './client-retry';

test("an SDK's retry count and timeout are read from its headers; anything else is not guessed", () => {
  // What the openai SDK (client.js buildHeaders) sends on a second retry with its default timeout.
  assert.deepEqual(clientRetry({ 'x-stainless-retry-count': '2', 'x-stainless-timeout': '600' }), { retriesMade: 2, timeoutMs: 600_000 });
  assert.deepEqual(clientRetry({ 'x-stainless-retry-count': '0' }), { retriesMade: 0 });
  assert.deepEqual(clientRetry({}), {}, 'curl says nothing');
  assert.deepEqual(clientRetry({ 'x-stainless-retry-count': 'two', 'x-stainless-timeout': '-5' }), {});
  assert.deepEqual(clientRetry({ 'x-stainless-retry-count': '1.5', 'x-stainless-timeout': '0' }), {});
});
