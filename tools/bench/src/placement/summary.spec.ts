import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { RequestResult } from '../replay';
import { jainIndex, retryAfterAccuracy, summarise, userFairness } from './summary';

test("Jain's index: 1 when equal, 1/n when one user gets everything", () => {
  assert.equal(jainIndex([3, 3, 3, 3]), 1);
  assert.equal(jainIndex([1, 0, 0, 0]), 0.25);
  assert.ok(Math.abs(jainIndex([1, 2]) - 0.9) < 1e-12);
  assert.ok(Number.isNaN(jainIndex([])));
});

const r = (user: string, ttftS: number, extra: Partial<RequestResult> = {}): RequestResult => ({
  model: 'm',
  priority: 'interactive',
  user,
  stream: true,
  status: 200,
  ok: true,
  ttftMs: ttftS * 1000,
  e2eMs: ttftS * 1000 + 1000,
  lagMs: 0,
  index: 0,
  sentMs: 0,
  attempts: [{ startMs: 0, status: 200, ok: true, timedOut: false, firstContentMs: ttftS * 1000, endMs: ttftS * 1000 + 1000 }],
  ...extra,
});

test('per-user fairness: the worst user p95 next to the median user', () => {
  const rs = [...Array.from({ length: 10 }, () => r('light1', 1)), ...Array.from({ length: 10 }, () => r('light2', 2)), ...Array.from({ length: 10 }, () => r('heavy', 50))];
  const f = userFairness(rs);
  assert.equal(f.users, 3);
  assert.equal(f.worstUser, 'heavy');
  assert.equal(f.worstUserP95, 50);
  assert.equal(f.medianUserP95, 2);
  assert.ok(f.jain < 0.7);
  assert.equal(userFairness(rs.filter((x) => x.user !== 'heavy')).jainServed, 1);
});

test('Retry-After accuracy: a retry after the given wait admitted or refused again', () => {
  const refusedThenServed = r('u', 70, {
    attempts: [
      { startMs: 0, status: 503, ok: false, timedOut: false, endMs: 5, retryAfterMs: 60_000 },
      { startMs: 60_005, status: 200, ok: true, timedOut: false, firstContentMs: 9_000, endMs: 10_000 },
    ],
  });
  const refusedTwice = r('u', NaN, {
    ok: false,
    attempts: [
      { startMs: 0, status: 503, ok: false, timedOut: false, endMs: 5, retryAfterMs: 30_000 },
      { startMs: 30_005, status: 503, ok: false, timedOut: false, endMs: 5, retryAfterMs: 30_000 },
      { startMs: 60_010, status: 503, ok: false, timedOut: false, endMs: 5 },
    ],
  });
  const a = retryAfterAccuracy([refusedThenServed, refusedTwice, r('v', 1)]);
  assert.equal(a.retriedAfterWait, 3);
  assert.equal(a.admittedOnRetry, 1);
  assert.equal(a.requestsRefused, 2);
  assert.equal(a.requestsRefusedForGood, 1);
  assert.equal(a.waitAfterReadmissionP50, 9);
  assert.equal(a.refusedAttempts, 4);
});

test('expected wait: the median error and the p90 one, which shows the estimates far off that the median hides', () => {
  // Eighteen admitted requests each told 5 s and served 1 s late; two told 5 s and served 80 s late
  // (a model cold in rotation, waiting its round, whose estimate counted only the load).
  const told = (actualS: number) =>
    r('u', actualS, { attempts: [{ startMs: 0, status: 200, ok: true, timedOut: false, firstContentMs: actualS * 1000, endMs: actualS * 1000 + 500, expectedWaitMs: 5000 }] });
  const a = retryAfterAccuracy([...Array.from({ length: 18 }, () => told(6)), told(85), told(85)]);
  assert.equal(a.expectedWaitSamples, 20);
  assert.equal(a.expectedWaitErrP50, 1);
  assert.equal(a.expectedWaitAbsErrP50, 1);
  assert.equal(a.expectedWaitErrP90, 1, 'the 18th of 20 is still on time');
  const b = retryAfterAccuracy([...Array.from({ length: 17 }, () => told(6)), told(85), told(85), told(85)]);
  assert.equal(b.expectedWaitErrP50, 1);
  assert.equal(b.expectedWaitErrP90, 80, 'three of twenty 80 s late: the p90 says so, the median does not');
});

test('summary: goodput over the span to the last served answer, TTFT over served interactive requests only', () => {
  const rs = [r('a', 2, { sentMs: 0 }), r('b', 4, { sentMs: 10_000 }), r('c', NaN, { ok: false, sentMs: 0 }), r('bulk', 100, { priority: 'bulk', stream: false, sentMs: 0 })];
  const s = summarise({ system: 'x', results: rs, loads: 4, loadingSecondsSim: 10, gpus: 2, distinctModels: 2, inOrderLoads: 4, maxRate: 1, lastArrivalS: 10, firstBulkS: 0 });
  assert.equal(s.served, 3);
  assert.equal(s.spanSeconds, 101); // the bulk answer ends at 101 s
  assert.ok(Math.abs(s.goodput - 3 / 101) < 1e-12);
  assert.equal(s.ttftP95, 4);
  assert.equal(s.interactiveServed, 2);
  assert.equal(s.loadsOverBound, 2);
  assert.equal(s.loadsPer1000, 1000);
  assert.ok(Number.isNaN(s.gpuBusyShare) && Number.isNaN(s.batchEfficiency), 'no compute figures from the simulator: none reported');
});

test('summary: the GPUs busy share of their time over the span, and the compute delivered then as a share of their most', () => {
  const rs = [r('a', 2, { sentMs: 0 }), r('b', 4, { sentMs: 10_000 })];
  const s = summarise({ system: 'x', results: rs, loads: 2, loadingSecondsSim: 0, gpuBusySecondsSim: 15, fullBatchSecondsSim: 12, gpus: 2, distinctModels: 2, inOrderLoads: 2, maxRate: 1, lastArrivalS: 10, firstBulkS: 0 });
  assert.equal(s.spanSeconds, 15); // b is sent at 10 s and ends 5 s later
  assert.equal(s.gpuBusyShare, 0.5); // 15 busy GPU-seconds of 2 GPUs × 15 s
  assert.ok(Math.abs(s.batchEfficiency - 0.8) < 1e-12);
});
