import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import OpenAI from 'openai';
import { admin, startPlatform, type Platform } from './platform';

/**
 * The performance pool made real under `npm start`: with SIM_PERFORMANCE_GPUS=1 a third simulated
 * GPU serves only the performance pool. A key of that pool is served there and only there; a
 * shared key never lands on it.
 */
let p: Platform;

before(async () => {
  p = await startPlatform({ SIM_PERFORMANCE_GPUS: '1' });
});

after(async () => {
  await p?.stop();
});

/** Jobs a worker finished for a model (any outcome but cancelled). */
async function jobsDone(workerUrl: string, model: string): Promise<number> {
  const text = await (await fetch(`${workerUrl}/metrics`)).text();
  let n = 0;
  for (const line of text.split('\n')) {
    if (!line.startsWith('switchyard_worker_jobs_total{') || !line.includes(`model="${model}"`) || line.includes('outcome="cancelled"')) continue;
    n += Number(line.split(' ').pop());
  }
  return n;
}

describe('the performance pool', () => {
  test("a performance key's requests run on the performance GPU only; a shared key's never do", async () => {
    assert.equal(p.workerUrls.length, 3);
    assert.match(p.output(), /worker gpu-2 .*\(performance pool\)/);
    const { key } = await admin(p).createKey({ pool: 'performance' });
    const perf = new OpenAI({ baseURL: `${p.baseUrl}/v1`, apiKey: key, maxRetries: 0 });
    const shared = new OpenAI({ baseURL: `${p.baseUrl}/v1`, apiKey: p.demoKey, maxRetries: 0 });
    const model = 'qwen2.5:7b';
    const before = await Promise.all(p.workerUrls.map((u) => jobsDone(u, model)));
    for (let i = 0; i < 3; i++) {
      const r = await perf.chat.completions.create({ model, max_tokens: 8, messages: [{ role: 'user', content: `bulk line ${i}` }] });
      assert.ok((r.choices[0].message.content ?? '').length > 0);
    }
    const afterPerf = await Promise.all(p.workerUrls.map((u) => jobsDone(u, model)));
    assert.equal(afterPerf[2] - before[2], 3, 'the performance GPU ran the performance key\'s requests');
    assert.equal(afterPerf[0] + afterPerf[1], before[0] + before[1], 'the shared GPUs ran none of them');
    await shared.chat.completions.create({ model, max_tokens: 8, messages: [{ role: 'user', content: 'interactive' }] });
    const afterShared = await Promise.all(p.workerUrls.map((u) => jobsDone(u, model)));
    assert.equal(afterShared[2], afterPerf[2], 'the performance GPU ran no shared request');
    assert.equal(afterShared[0] + afterShared[1] - (afterPerf[0] + afterPerf[1]), 1);
  });
});
