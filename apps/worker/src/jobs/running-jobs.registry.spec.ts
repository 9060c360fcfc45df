import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Registry } from 'prom-client';
import { WorkerMetrics } from '../metrics/worker.metrics';
import { abortedByShutdown, CancelReason, RunningJobs } from './running-jobs.registry';

test('counts busy slots per model and aborts a running job with its reason', () => {
  const r = new RunningJobs(new WorkerMetrics(new Registry()));
  const a = r.start('r1', 'm');
  const b = r.start('r2', 'm');
  assert.ok(a && b);
  assert.equal(r.busySlots('m'), 2);
  assert.equal(r.cancel('r1', 'client disconnected'), true);
  assert.ok(a.signal.aborted);
  assert.ok(a.signal.reason instanceof CancelReason);
  assert.ok(!b.signal.aborted);
  r.finish('r1', a);
  r.finish('r2', b);
  assert.equal(r.busySlots('m'), 0);
  assert.equal(r.totalBusy(), 0);
});

test('a cancel that arrives before its job starts is remembered', () => {
  const r = new RunningJobs(new WorkerMetrics(new Registry()));
  assert.equal(r.cancel('r3', 'gone'), false);
  assert.equal(r.start('r3', 'm'), undefined);
  assert.ok(r.start('r3', 'm'), 'only once');
});

test('abortAll aborts every running job as a shutdown, which a client cancel is not', () => {
  const r = new RunningJobs(new WorkerMetrics(new Registry()));
  const a = r.start('r1', 'm');
  const b = r.start('r2', 'n');
  const c = r.start('r3', 'm');
  assert.ok(a && b && c);
  r.cancel('r3', 'client disconnected');
  assert.deepEqual(r.abortAll('drain timeout'), [
    { requestId: 'r1', model: 'm' },
    { requestId: 'r2', model: 'n' },
  ]);
  assert.ok(a.signal.aborted && b.signal.aborted);
  assert.equal(abortedByShutdown(a.signal), true);
  assert.equal(abortedByShutdown(c.signal), false, 'cancelled by its client first');
  assert.equal((c.signal.reason as CancelReason).kind, 'cancel');
});
