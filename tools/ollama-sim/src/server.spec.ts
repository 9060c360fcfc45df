import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { Ollama } from 'ollama';
import OpenAI from 'openai';
import { SimulatorOptions } from './config';
import { QUEUE_FULL_MESSAGE } from './gpu';
import { startSimulator } from './server';

const HELLO = [{ role: 'user', content: 'Say hello.' }];

async function withSim(options: SimulatorOptions, fn: (urls: string[]) => Promise<void>): Promise<void> {
  const sim = await startSimulator({ port: 0, logLevel: 'silent', ...options });
  try {
    await fn(sim.urls);
  } finally {
    await sim.close();
  }
}

const psNames = async (ollama: Ollama) => (await ollama.ps()).models.map((m) => m.name).sort();

describe('simulator over HTTP', () => {
  test('a full pending queue answers 503 with Ollama body (native and /v1); loaded models are still served', async () => {
    // time-scale 10: a load takes ~200 ms real, long enough to fill the queue behind it.
    await withSim({ timeScale: 10, maxQueue: 1, contextLength: 4096 }, async ([url]) => {
      const ollama = new Ollama({ host: url });
      const post = (body: unknown) => fetch(`${url}/api/generate`, { method: 'POST', body: JSON.stringify({ stream: false, ...(body as object) }) });
      await ollama.generate({ model: 'qwen2.5:7b', prompt: '', keep_alive: -1 }); // loaded before the rush
      const loading = post({ model: 'llama3.1:8b', prompt: 'hi', options: { num_predict: 2 } });
      await sleep(20);
      const queued = post({ model: 'mistral:7b', prompt: 'hi', options: { num_predict: 2 } });
      await sleep(20);
      const full = await post({ model: 'gemma2:9b', prompt: 'hi' });
      assert.equal(full.status, 503);
      assert.equal(await full.text(), JSON.stringify({ error: QUEUE_FULL_MESSAGE }));
      await assert.rejects(ollama.chat({ model: 'gemma2:9b', messages: HELLO }), (err: Error & { status_code?: number }) => err.status_code === 503 && err.message === QUEUE_FULL_MESSAGE);
      const client = new OpenAI({ baseURL: `${url}/v1`, apiKey: 'ollama', maxRetries: 0 });
      await assert.rejects(client.chat.completions.create({ model: 'gemma2:9b', messages: [{ role: 'user', content: 'x' }] }), (err: unknown) => {
        assert.ok(err instanceof OpenAI.APIError);
        assert.equal(err.status, 503);
        assert.deepEqual(err.error, { message: QUEUE_FULL_MESSAGE, type: 'api_error', param: null, code: null });
        return true;
      });
      // The loaded model bypasses the queue.
      const served = await ollama.generate({ model: 'qwen2.5:7b', prompt: 'hi', options: { num_predict: 2 } });
      assert.equal(served.eval_count, 2);
      assert.equal((await loading).status, 200);
      assert.equal((await queued).status, 200);
      const stats = (await (await fetch(`${url}/sim/stats`)).json()) as { totals: { rejected_queue_full: number } };
      assert.equal(stats.totals.rejected_queue_full, 3);
    });
  });

  test('eviction order: the idle model with the shortest keep_alive goes first', async () => {
    await withSim({ timeScale: 1000, maxLoaded: 2, contextLength: 4096 }, async ([url]) => {
      const ollama = new Ollama({ host: url });
      await ollama.generate({ model: 'mistral:7b', prompt: 'hi', keep_alive: '1m', options: { num_predict: 1 } });
      await ollama.generate({ model: 'qwen2.5:7b', prompt: 'hi', keep_alive: '30m', options: { num_predict: 1 } });
      await ollama.generate({ model: 'mistral:7b', prompt: 'hi', keep_alive: '1m', options: { num_predict: 1 } }); // most recently used
      await ollama.generate({ model: 'gemma2:9b', prompt: 'hi', keep_alive: '10m', options: { num_predict: 1 } });
      assert.deepEqual(await psNames(ollama), ['gemma2:9b', 'qwen2.5:7b']);
      await ollama.generate({ model: 'mistral:7b', prompt: 'hi', keep_alive: '20m', options: { num_predict: 1 } });
      assert.deepEqual(await psNames(ollama), ['mistral:7b', 'qwen2.5:7b']);
      const ps = await ollama.ps();
      assert.equal(ps.models[0].name, 'qwen2.5:7b', 'latest expires_at first');
    });
  });

  test('a different num_ctx reloads the model; no num_ctx means the default by VRAM', async () => {
    await withSim({ timeScale: 1000, vramGb: 40 }, async ([url]) => {
      const ollama = new Ollama({ host: url });
      await ollama.generate({ model: 'llama3.1:8b', prompt: 'hi', options: { num_ctx: 2048, num_predict: 1 } });
      const ctx = async () => ((await ollama.ps()).models[0] as unknown as { context_length: number }).context_length;
      assert.equal(await ctx(), 2048);
      await ollama.generate({ model: 'llama3.1:8b', prompt: 'hi', options: { num_ctx: 2048, num_predict: 1 } });
      await ollama.generate({ model: 'llama3.1:8b', prompt: 'hi', options: { num_predict: 1 } });
      assert.equal(await ctx(), 32768, '40 GB of VRAM: default num_ctx 32768');
      const stats = (await (await fetch(`${url}/sim/stats`)).json()) as { models: Record<string, { loads: number; evictions: number }> };
      assert.equal(stats.models['llama3.1:8b'].loads, 2);
      assert.equal(stats.models['llama3.1:8b'].evictions, 1);
    });
  });

  test('keep_alive: -1 keeps the model, a short one expires (scaled by time-scale)', async () => {
    await withSim({ timeScale: 1000, contextLength: 4096 }, async ([url]) => {
      const ollama = new Ollama({ host: url });
      await ollama.generate({ model: 'qwen2.5:7b', prompt: '', keep_alive: -1 });
      // 300 ms real: long enough for the ps right after it on a busy machine (10 ms was not, once).
      await ollama.generate({ model: 'mistral:7b', prompt: '', keep_alive: '300s' });
      assert.deepEqual(await psNames(ollama), ['mistral:7b', 'qwen2.5:7b']);
      await sleep(900);
      assert.deepEqual(await psNames(ollama), ['qwen2.5:7b']);
      const forever = (await ollama.ps()).models[0];
      assert.ok(new Date(forever.expires_at).getFullYear() > 2200);
    });
  });

  test('a client that disconnects frees its slot and stops generation', async () => {
    await withSim({ timeScale: 10, numParallel: 1, contextLength: 4096 }, async ([url]) => {
      const ac = new AbortController();
      const res = await fetch(`${url}/api/chat`, {
        method: 'POST',
        body: JSON.stringify({ model: 'llama3.1:8b', messages: HELLO, options: { num_predict: 100000 } }),
        signal: ac.signal,
      });
      const reader = res.body!.getReader();
      await reader.read(); // first tokens arrived: the slot is busy
      ac.abort();
      const ollama = new Ollama({ host: url });
      const started = Date.now();
      const r = await ollama.chat({ model: 'llama3.1:8b', messages: HELLO, stream: false, options: { num_predict: 3 } });
      assert.equal(r.eval_count, 3);
      assert.ok(Date.now() - started < 2000, 'the single slot was freed');
      const stats = (await (await fetch(`${url}/sim/stats`)).json()) as { models: Record<string, { tokens_generated: number }> };
      assert.ok(stats.models['llama3.1:8b'].tokens_generated < 1000);
    });
  });

  test('stats, metrics and reset; several GPUs are independent servers', async () => {
    await withSim({ timeScale: 1000, gpus: 2, contextLength: 4096 }, async (urls) => {
      assert.equal(urls.length, 2);
      assert.notEqual(urls[0], urls[1]);
      const [a, b] = urls.map((host) => new Ollama({ host }));
      await a.chat({ model: 'llama3.1:8b', messages: HELLO, stream: false });
      assert.deepEqual(await psNames(a), ['llama3.1:8b']);
      assert.deepEqual(await psNames(b), []);
      type Stats = {
        gpu: number;
        time_scale: number;
        totals: { requests: number; loads: number; tokens_generated: number; loading_seconds_sim: number; loading_seconds_real: number; busy_seconds_sim: number };
        models: Record<string, { loads: number }>;
      };
      const s = (await (await fetch(`${urls[0]}/sim/stats`)).json()) as Stats;
      assert.equal(s.gpu, 0);
      assert.equal(s.time_scale, 1000);
      assert.equal(s.totals.requests, 1);
      assert.equal(s.totals.loads, 1);
      assert.ok(s.totals.tokens_generated > 0);
      assert.ok(Math.abs(s.totals.loading_seconds_sim - 1.99) < 1e-6);
      assert.ok(Math.abs(s.totals.loading_seconds_real - 0.00199) < 1e-6);
      assert.ok(s.totals.busy_seconds_sim > 0);
      const all = (await (await fetch(`${urls[1]}/sim/stats?scope=all`)).json()) as { gpus: Stats[] };
      assert.deepEqual(
        all.gpus.map((g) => g.totals.loads),
        [1, 0],
      );
      const metrics = await (await fetch(`${urls[0]}/metrics`)).text();
      assert.match(metrics, /switchyard_sim_requests_total\{model="llama3.1:8b",endpoint="chat",gpu="0"\} 1/);
      assert.match(metrics, /switchyard_sim_model_loads_total\{model="llama3.1:8b",gpu="0"\} 1/);
      assert.match(metrics, /switchyard_sim_loaded_models\{gpu="0"\} 1/);
      await fetch(`${urls[0]}/sim/reset`, { method: 'POST' });
      const after = (await (await fetch(`${urls[0]}/sim/stats`)).json()) as Stats;
      assert.equal(after.totals.requests, 0);
      assert.deepEqual(after.models, {});
    });
  });

  test('the same seed gives the same text on another server; another seed another text', async () => {
    const ask = async (seed: number) => {
      let text = '';
      await withSim({ timeScale: 1000, seed, contextLength: 4096 }, async ([url]) => {
        text = (await new Ollama({ host: url }).chat({ model: 'llama3.1:8b', messages: HELLO, stream: false })).message.content;
      });
      return text;
    };
    const first = await ask(7);
    assert.equal(await ask(7), first);
    assert.notEqual(await ask(8), first);
  });
});
