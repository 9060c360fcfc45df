import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { optionsFromCli, resolveConfig } from './config';

describe('settings', () => {
  test('defaults match Ollama on the portal: 11434, 80 GB, 4 slots, queue 512, 3 loaded, 5m', () => {
    const c = resolveConfig({});
    assert.equal(c.port, 11434);
    assert.equal(c.host, '127.0.0.1');
    assert.equal(c.gpus, 1);
    assert.equal(c.vramGb, 80);
    assert.equal(c.numParallel, 4);
    assert.equal(c.maxQueue, 512);
    assert.equal(c.maxLoaded, 3);
    assert.equal(c.keepAlive, 300);
    assert.equal(c.timeScale, 1);
    assert.equal(c.fitFraction, 0.8);
    assert.equal(c.cpuGenSlowdown, 15);
    assert.equal(c.cpuPromptSlowdown, 30);
  });

  test('flags win over SIM_* variables; negative values need no "="', () => {
    const o = optionsFromCli(['--port', '0', '--keep-alive', '-1', '--time-scale=100'], { SIM_PORT: '9999', SIM_GPUS: '3', SIM_SEED: '' });
    assert.deepEqual(o, { port: '0', gpus: '3', keepAlive: '-1', timeScale: '100' });
    const c = resolveConfig(o);
    assert.equal(c.port, 0);
    assert.equal(c.gpus, 3);
    assert.equal(c.keepAlive, Infinity);
    assert.equal(c.timeScale, 100);
    assert.throws(() => optionsFromCli(['--nope', '1'], {}), /unknown argument: --nope/);
    assert.throws(() => optionsFromCli(['--port'], {}), /missing value for --port/);
  });

  test('bad settings are all listed', () => {
    assert.throws(
      () => resolveConfig({ gpus: 0, timeScale: -1, keepAlive: 'soon' }),
      (err: Error) => /gpus/.test(err.message) && /timeScale/.test(err.message) && /keepAlive/.test(err.message),
    );
  });
});
