import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { parseGoDuration, parseKeepAlive, parseKeepAliveSetting } from './duration';

describe('durations', () => {
  test('Go durations', () => {
    assert.equal(parseGoDuration('5m'), 300);
    assert.equal(parseGoDuration('1h30m'), 5400);
    assert.equal(parseGoDuration('1.5s'), 1.5);
    assert.equal(parseGoDuration('250ms'), 0.25);
    assert.equal(parseGoDuration('0'), 0);
    assert.equal(parseGoDuration('-1m'), -60);
    assert.throws(() => parseGoDuration('300'), /time: missing unit in duration "300"/);
    assert.throws(() => parseGoDuration('5d'), /time: unknown unit "d" in duration "5d"/);
    assert.throws(() => parseGoDuration('abc'), /time: invalid duration "abc"/);
  });

  test('keep_alive: number of seconds or duration string; negative is forever', () => {
    assert.equal(parseKeepAlive(30), 30);
    assert.equal(parseKeepAlive('10m'), 600);
    assert.equal(parseKeepAlive(0), 0);
    assert.equal(parseKeepAlive(-1), Infinity);
    assert.equal(parseKeepAlive('-1s'), Infinity);
    assert.equal(parseKeepAliveSetting('300'), 300);
    assert.equal(parseKeepAliveSetting('-1'), Infinity);
    assert.equal(parseKeepAliveSetting('5m'), 300);
  });
});
