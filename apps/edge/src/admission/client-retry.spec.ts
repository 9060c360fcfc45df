import { test } from 'node:test';
import assert from 'node:assert/strict';
import { clientRetry, requestFingerprint } from './client-retry';

test("an SDK's retry count and timeout are read from its headers; anything else is not guessed", () => {
  // What the openai SDK (client.js buildHeaders) sends on a second retry with its default timeout.
  assert.deepEqual(clientRetry({ 'x-stainless-retry-count': '2', 'x-stainless-timeout': '600' }), { retriesMade: 2, timeoutMs: 600_000 });
  assert.deepEqual(clientRetry({ 'x-stainless-retry-count': '0' }), { retriesMade: 0 });
  assert.deepEqual(clientRetry({}), {}, 'curl says nothing');
  assert.deepEqual(clientRetry({ 'x-stainless-retry-count': 'two', 'x-stainless-timeout': '-5' }), {});
  assert.deepEqual(clientRetry({ 'x-stainless-retry-count': '1.5', 'x-stainless-timeout': '0' }), {});
});

test('a fingerprint names the request: the same content gives the same one, other content another', () => {
  const work = { kind: 'chat', messages: [{ role: 'user', content: 'hello' }], options: { temperature: 0 } };
  assert.equal(requestFingerprint(work), requestFingerprint(structuredClone(work)));
  assert.notEqual(requestFingerprint(work), requestFingerprint({ ...work, messages: [{ role: 'user', content: 'hello!' }] }));
  assert.match(requestFingerprint(work), /^[A-Za-z0-9_-]{16}$/, 'no space: it is part of a deferred entry');
});
