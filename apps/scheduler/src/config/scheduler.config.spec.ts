import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DEFAULT_MAX_EXPECTED_WAIT_MS } from '@switchyard/config';
import { DEFAULT_RESIDENCY_AWARE_OPTIONS } from '../policy';
import { loadSchedulerConfig, policyOptions } from './scheduler.config';

test('with no environment, the policy runs with its own defaults: one source of truth', () => {
  assert.deepEqual(policyOptions(loadSchedulerConfig({})), DEFAULT_RESIDENCY_AWARE_OPTIONS);
});

test('the expected-wait bound defaults to the one the edge admits by', () => {
  assert.equal(loadSchedulerConfig({}).SCHEDULER_MAX_EXPECTED_WAIT_MS, DEFAULT_MAX_EXPECTED_WAIT_MS);
  assert.equal(DEFAULT_RESIDENCY_AWARE_OPTIONS.maxExpectedWaitMs, DEFAULT_MAX_EXPECTED_WAIT_MS);
});

test('a variable overrides its default', () => {
  const c = loadSchedulerConfig({ SCHEDULER_MIN_RESIDENCY_MS: '30000', SCHEDULER_MAX_EXPECTED_WAIT_MS: '20000' });
  assert.equal(policyOptions(c).minResidencyMs, 30_000);
  assert.equal(policyOptions(c).maxExpectedWaitMs, 20_000);
});
