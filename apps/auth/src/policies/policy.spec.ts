import { test } from 'node:test';
import assert from 'node:assert/strict';
import { applyPolicyPatch, DEFAULT_POLICY, effectivePolicy, NO_OVERRIDES } from './policy';
import { policyPatchSchema } from './policy.schema';

test('with no overrides a key may use every model without limits, interactive, shared pool, an equal share', () => {
  assert.deepEqual(effectivePolicy(undefined, undefined), DEFAULT_POLICY);
  assert.deepEqual(effectivePolicy({ ...NO_OVERRIDES }, { ...NO_OVERRIDES }), {
    models: 'all',
    requestsPerMinute: 0,
    tokensPerMinute: 0,
    tokenBudget: 0,
    budgetPeriod: 'day',
    priority: 'interactive',
    pool: 'shared',
    share: 1,
  });
});

test('key overrides win over user defaults, field by field', () => {
  const user = { ...NO_OVERRIDES, models: ['a', 'b'], requestsPerMinute: 60, tokenBudget: 1000, budgetPeriod: 'month' as const };
  const key = { ...NO_OVERRIDES, requestsPerMinute: 5, pool: 'performance' as const, share: 4 };
  assert.deepEqual(effectivePolicy(user, key), {
    models: ['a', 'b'],
    requestsPerMinute: 5,
    tokensPerMinute: 0,
    tokenBudget: 1000,
    budgetPeriod: 'month',
    priority: 'interactive',
    pool: 'performance',
    share: 4,
  });
  assert.equal(effectivePolicy({ ...user, share: 0.5 }, { ...key, share: null }).share, 0.5, 'a user default share applies to its keys');
  assert.equal(effectivePolicy(user, { ...key, models: 'all' }).models, 'all');
  // An explicit 0 on the key is "unlimited", not "inherit".
  assert.equal(effectivePolicy(user, { ...key, requestsPerMinute: 0 }).requestsPerMinute, 0);
});

test('a patch changes given fields, null clears, absent fields stay', () => {
  const current = { ...NO_OVERRIDES, requestsPerMinute: 10, priority: 'bulk' as const };
  const next = applyPolicyPatch(current, { requestsPerMinute: null, tokensPerMinute: 500 });
  assert.deepEqual(next, { ...NO_OVERRIDES, tokensPerMinute: 500, priority: 'bulk' });
  assert.deepEqual(current.requestsPerMinute, 10, 'the input is not mutated');
});

test('the patch schema refuses unknown fields and bad values', () => {
  assert.equal(policyPatchSchema.safeParse({ rpm: 5 }).success, false);
  assert.equal(policyPatchSchema.safeParse({ requestsPerMinute: -1 }).success, false);
  assert.equal(policyPatchSchema.safeParse({ models: [] }).success, false);
  assert.equal(policyPatchSchema.safeParse({ models: 'some' }).success, false);
  assert.equal(policyPatchSchema.safeParse({ priority: 'realtime' }).success, false);
  for (const share of [0, -1, 0.01, 1000, '2']) assert.equal(policyPatchSchema.safeParse({ share }).success, false, `share ${share}`);
  assert.equal(policyPatchSchema.safeParse({ models: ['llama3.1:8b', 'hf.co/org/model:Q4_K_M'], pool: 'performance', tokenBudget: null }).success, true);
  assert.equal(policyPatchSchema.safeParse({ share: 0.25 }).success, true);
  assert.equal(policyPatchSchema.safeParse({ share: null }).success, true);
});
