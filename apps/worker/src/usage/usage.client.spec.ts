import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FakeUsageTransport } from '../testing/processor.fixture';
import { testLogger } from '../testing/test-logger';
import { UsageRecorder, type UsageRecord } from './usage.client';

const rec: UsageRecord = {
  requestId: 'req_1',
  keyId: 'k',
  userId: 'u',
  model: 'llama3.1:8b',
  pool: 'shared',
  promptTokens: 10,
  completionTokens: 20.4,
  queueMs: 5,
  generationMs: 100.7,
  outcome: 'ok',
  createdAtMs: 1,
};

test('records usage keyed by request id, with the worker id', async () => {
  const t = new FakeUsageTransport();
  const u = new UsageRecorder(t, { WORKER_ID: 'w9', WORKER_USAGE_ATTEMPTS: 3 }, testLogger());
  u.record(rec);
  await u.flush(1000);
  assert.equal(t.calls.length, 1);
  assert.equal(t.calls[0].requestId, 'req_1');
  assert.equal(t.calls[0].workerId, 'w9');
  assert.equal(t.calls[0].completionTokens, 20);
  assert.equal(t.calls[0].generationMs, 101);
});

test('Redis not taking the entry: retried in the background, never thrown; given up after the attempts', async () => {
  const t = new FakeUsageTransport();
  t.failures = 2;
  const u = new UsageRecorder(t, { WORKER_ID: 'w', WORKER_USAGE_ATTEMPTS: 3 }, testLogger());
  u.retryBaseMs = 1;
  assert.doesNotThrow(() => u.record(rec));
  await u.flush(2000);
  assert.equal(t.calls.length, 3, 'two failures, then recorded');

  const t2 = new FakeUsageTransport();
  t2.failures = 10;
  const u2 = new UsageRecorder(t2, { WORKER_ID: 'w', WORKER_USAGE_ATTEMPTS: 3 }, testLogger());
  u2.retryBaseMs = 1;
  u2.record(rec);
  await u2.flush(2000);
  assert.equal(t2.calls.length, 3);
});

test('AUTH_GRPC_URL=none: nothing is sent', async () => {
  const u = new UsageRecorder(null, { WORKER_ID: 'w', WORKER_USAGE_ATTEMPTS: 3 }, testLogger());
  u.record(rec);
  await u.flush(100);
});
