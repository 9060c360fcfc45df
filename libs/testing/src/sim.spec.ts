import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { spawnSimulator } from './sim';

describe('spawnSimulator', () => {
  test('starts the simulator on ephemeral ports and stops it', async () => {
    const sim = await spawnSimulator({ gpus: 2, timeScale: 1000, numParallel: 2, maxLoaded: 2, extraArgs: ['--context-length', '4096'] });
    try {
      assert.equal(sim.urls.length, 2);
      const res = await fetch(`${sim.urls[0]}/api/chat`, {
        method: 'POST',
        body: JSON.stringify({ model: 'llama3.1:8b', messages: [{ role: 'user', content: 'hi' }], stream: false, options: { num_predict: 4 } }),
      });
      const body = (await res.json()) as { eval_count: number; done_reason: string };
      assert.equal(body.eval_count, 4);
      assert.equal(body.done_reason, 'length');
    } finally {
      await sim.stop();
    }
    await assert.rejects(fetch(`${sim.urls[0]}/api/version`));
  });

  test('rejects with stderr when the simulator cannot start', async () => {
    await assert.rejects(spawnSimulator({ models: '/nonexistent/models.yaml' }), /ollama simulator exited[\s\S]*nonexistent/);
  });
});
