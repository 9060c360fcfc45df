import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decodeBatchCaller, encodeBatchCaller, type BatchCaller } from './caller.schema';

const caller: BatchCaller = {
  userId: 'u1',
  keyId: 'k1',
  policy: { allModels: true, allowedModels: [], pool: null, priority: 'bulk', tokenBudget: 0, share: 2.5 },
  budgetUsed: 0,
};

test('a caller survives the header, its share included', () => {
  assert.deepEqual(decodeBatchCaller(encodeBatchCaller(caller)), caller);
});

test('a caller without a share (recorded before shares) is still one; a share out of range is not', () => {
  const { share: _, ...before } = caller.policy;
  assert.deepEqual(decodeBatchCaller(encodeBatchCaller({ ...caller, policy: before }))?.policy, before);
  assert.equal(decodeBatchCaller(encodeBatchCaller({ ...caller, policy: { ...caller.policy, share: 0 } })), undefined);
  assert.equal(decodeBatchCaller('not base64 json'), undefined);
});
