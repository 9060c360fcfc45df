import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { formatDuration, RestartPolicy } from './restart-policy';

/** Crashes `n` times, each right after the previous restart (up for `upMs`), from t = 0. */
function crashLoop(policy: RestartPolicy, n: number, upMs = 100) {
  const out = [];
  let now = 0;
  for (let i = 0; i < n; i++) {
    now += upMs;
    const d = policy.onCrash(now, upMs);
    out.push(d);
    if (d.restart) now += d.delayMs;
  }
  return out;
}

describe('RestartPolicy', () => {
  test('backs off 0.5 s, 1 s, 2 s, 4 s and leaves the service down at its 5th crash within 2 minutes', () => {
    const decisions = crashLoop(new RestartPolicy(), 5);
    assert.deepEqual(decisions.slice(0, 4), [
      { restart: true, delayMs: 500, restartNumber: 1 },
      { restart: true, delayMs: 1000, restartNumber: 2 },
      { restart: true, delayMs: 2000, restartNumber: 3 },
      { restart: true, delayMs: 4000, restartNumber: 4 },
    ]);
    assert.deepEqual(decisions[4], { restart: false, crashes: 5 });
  });

  test('the delay is capped at 15 s', () => {
    const policy = new RestartPolicy({ maxCrashes: 100, crashWindowMs: 1 });
    const delays = crashLoop(policy, 8).map((d) => (d.restart ? d.delayMs : -1));
    assert.deepEqual(delays, [500, 1000, 2000, 4000, 8000, 15000, 15000, 15000]);
  });

  test('a service that stayed up 60 s starts the backoff over, and its restart count goes on', () => {
    const policy = new RestartPolicy();
    crashLoop(policy, 3); // 0.5, 1, 2 s
    const afterHealthy = policy.onCrash(200_000, 60_000);
    assert.deepEqual(afterHealthy, { restart: true, delayMs: 500, restartNumber: 4 });
    const justShort = policy.onCrash(260_000, 59_000);
    assert.deepEqual(justShort, { restart: true, delayMs: 1000, restartNumber: 5 });
  });

  test('crashes older than the window do not count towards giving up', () => {
    const policy = new RestartPolicy({ maxCrashes: 3, crashWindowMs: 10_000 });
    assert.equal(policy.onCrash(0, 1).restart, true);
    assert.equal(policy.onCrash(5_000, 1).restart, true);
    assert.equal(policy.onCrash(12_000, 1).restart, true); // the crash at 0 has left the window
    assert.deepEqual(policy.onCrash(14_000, 1), { restart: false, crashes: 3 });
  });
});

test('formatDuration', () => {
  assert.deepEqual([20, 500, 1000, 2000, 15000, 120000].map(formatDuration), ['20 ms', '0.5 s', '1 s', '2 s', '15 s', '2 min']);
});
