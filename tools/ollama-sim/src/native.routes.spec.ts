import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { Ollama } from 'ollama';
import { RunningSimulator, startSimulator } from './server';

const MODEL = 'llama3.1:8b';
const HELLO = [{ role: 'user', content: 'Say hello to the simulator.' }];

describe('native API through ollama-js', () => {
  let sim: RunningSimulator;
  let url: string;
  let ollama: Ollama;

  before(async () => {
    sim = await startSimulator({ port: 0, timeScale: 1000, contextLength: 8192, maxLoaded: 4, logLevel: 'silent' });
    url = sim.urls[0];
    ollama = new Ollama({ host: url });
  });
  after(() => sim.close());

  const post = (path: string, body: unknown) => fetch(`${url}${path}`, { method: 'POST', body: typeof body === 'string' ? body : JSON.stringify(body) });
  const rejectsWith = (p: Promise<unknown>, status: number, message: string) =>
    assert.rejects(p, (err: Error & { status_code?: number }) => {
      assert.equal(err.status_code, status);
      assert.equal(err.message, message);
      return true;
    });

  test('version, root and HEAD', async () => {
    assert.deepEqual(await ollama.version(), { version: '0.34.0' });
    const root = await fetch(`${url}/`);
    assert.equal(await root.text(), 'Ollama is running');
    assert.equal((await fetch(`${url}/api/version`, { method: 'HEAD' })).status, 200);
  });

  test('tags lists the catalogue with details; show gives model_info and capabilities', async () => {
    const { models } = await ollama.list();
    const m = models.find((x) => x.name === MODEL);
    assert.ok(m);
    assert.equal(m.model, MODEL);
    assert.equal(m.size, 4.9e9);
    assert.match(m.digest, /^[0-9a-f]{64}$/);
    assert.deepEqual(m.details, { parent_model: '', format: 'gguf', family: 'llama', families: ['llama'], parameter_size: '8.0B', quantization_level: 'Q4_K_M' });
    const show = await ollama.show({ model: MODEL });
    const info = show.model_info as unknown as Record<string, unknown>;
    assert.equal(info['llama.context_length'], 131072);
    assert.equal(info['general.architecture'], 'llama');
    assert.deepEqual(show.capabilities, ['completion', 'tools']);
    await rejectsWith(ollama.show({ model: 'nope:1b' }), 404, "model 'nope:1b' not found");
  });

  test('chat without streaming: message, done_reason and metrics in simulated ns', async () => {
    const r = await ollama.chat({ model: MODEL, messages: HELLO, stream: false });
    assert.equal(r.model, MODEL);
    assert.equal(r.message.role, 'assistant');
    assert.ok(r.message.content.length > 0);
    assert.equal(r.done, true);
    assert.equal(r.done_reason, 'stop');
    assert.ok(r.eval_count >= 20 && r.eval_count <= 120);
    assert.ok(r.prompt_eval_count > 0);
    // One stream on an 8B model: 140 tokens per simulated second.
    assert.ok(Math.abs(r.eval_count / (r.eval_duration / 1e9) - 140) < 1, `rate ${r.eval_count / (r.eval_duration / 1e9)}`);
    assert.ok(r.total_duration >= r.load_duration + r.prompt_eval_duration + r.eval_duration - 1e6);
    const again = await ollama.chat({ model: MODEL, messages: HELLO, stream: false });
    assert.equal(again.message.content, r.message.content, 'same seed and request give the same text');
    const seeded = await ollama.chat({ model: MODEL, messages: HELLO, stream: false, options: { seed: 42 } });
    assert.notEqual(seeded.message.content, r.message.content);
  });

  test('chat streams NDJSON token by token, ending with done and the metrics', async () => {
    const whole = await ollama.chat({ model: MODEL, messages: HELLO, stream: false });
    const parts: string[] = [];
    let last;
    for await (const chunk of await ollama.chat({ model: MODEL, messages: HELLO, stream: true })) {
      if (!chunk.done) parts.push(chunk.message.content);
      last = chunk;
    }
    assert.equal(parts.join(''), whole.message.content);
    assert.equal(parts.length, whole.eval_count);
    assert.equal(last?.done, true);
    assert.equal(last?.message.content, '');
    assert.equal(last?.done_reason, 'stop');
    assert.equal(last?.eval_count, whole.eval_count);
    const raw = await post('/api/chat', { model: MODEL, messages: HELLO });
    assert.equal(raw.headers.get('content-type'), 'application/x-ndjson');
    const lines = (await raw.text()).trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    assert.deepEqual(Object.keys(lines[0]), ['model', 'created_at', 'message', 'done']);
    assert.deepEqual(Object.keys(lines[lines.length - 1]), [
      'model',
      'created_at',
      'message',
      'done_reason',
      'done',
      'total_duration',
      'load_duration',
      'prompt_eval_count',
      'prompt_eval_duration',
      'eval_count',
      'eval_duration',
    ]);
  });

  test('generate, streaming and not, with suffix (fill-in-the-middle) where the model supports insert', async () => {
    const r = await ollama.generate({ model: MODEL, prompt: 'Why is the sky blue?', stream: false });
    assert.ok((r.response ?? '').length > 0);
    assert.equal(r.done_reason, 'stop');
    assert.ok(Array.isArray(r.context));
    let text = '';
    for await (const chunk of await ollama.generate({ model: MODEL, prompt: 'Why is the sky blue?', stream: true })) text += chunk.response;
    assert.equal(text, r.response);
    const fim = await ollama.generate({ model: 'codestral:22b', prompt: 'def add(a, b):', suffix: '    return c', stream: false });
    assert.ok((fim.response ?? '').length > 0);
    await rejectsWith(ollama.generate({ model: MODEL, prompt: 'x', suffix: 'y' }), 400, '"llama3.1:8b" does not support insert');
  });

  test('num_predict cuts with done_reason length; stop sequences end with stop', async () => {
    const cut = await ollama.chat({ model: MODEL, messages: HELLO, stream: false, options: { num_predict: 5 } });
    assert.equal(cut.eval_count, 5);
    assert.equal(cut.done_reason, 'length');
    const whole = await ollama.generate({ model: MODEL, prompt: 'Tell me more', stream: false });
    const wholeText = whole.response ?? '';
    const words = wholeText.split(' ');
    const stop = ` ${words[Math.floor(words.length / 2)]}`;
    const stopped = await ollama.generate({ model: MODEL, prompt: 'Tell me more', stream: false, options: { stop: [stop] } });
    assert.equal(stopped.done_reason, 'stop');
    assert.equal(stopped.response, wholeText.slice(0, wholeText.indexOf(stop)));
    let streamed = '';
    for await (const c of await ollama.generate({ model: MODEL, prompt: 'Tell me more', stream: true, options: { stop: [stop] } })) streamed += c.response;
    assert.equal(streamed, stopped.response);
  });

  test('format json and a JSON schema give valid JSON', async () => {
    const j = await ollama.chat({ model: MODEL, messages: HELLO, stream: false, format: 'json' });
    assert.equal(typeof JSON.parse(j.message.content), 'object');
    const schema = { type: 'object', properties: { city: { type: 'string' }, population: { type: 'integer' } }, required: ['city', 'population'] };
    const s = await ollama.generate({ model: MODEL, prompt: 'A city', stream: false, format: schema });
    const v = JSON.parse(s.response ?? '') as { city: unknown; population: unknown };
    assert.equal(typeof v.city, 'string');
    assert.equal(typeof v.population, 'number');
  });

  test('tools: the model calls the first tool in Ollama shape', async () => {
    const tools = [
      {
        type: 'function',
        function: { name: 'get_weather', description: 'Weather', parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] } },
      },
    ];
    const r = await ollama.chat({ model: MODEL, messages: [{ role: 'user', content: 'Weather in Paris?' }], tools, stream: false });
    assert.equal(r.message.content, '');
    assert.equal(r.message.tool_calls?.length, 1);
    assert.equal(r.message.tool_calls?.[0].function.name, 'get_weather');
    assert.equal(typeof r.message.tool_calls?.[0].function.arguments.city, 'string');
    // After the tool answered, the model replies in text.
    const followUp = await ollama.chat({
      model: MODEL,
      messages: [{ role: 'user', content: 'Weather in Paris?' }, { role: 'assistant', content: '', tool_calls: r.message.tool_calls }, { role: 'tool', content: 'sunny' }],
      tools,
      stream: false,
    });
    assert.ok(followUp.message.content.length > 0);
    assert.equal(followUp.message.tool_calls, undefined);
    await rejectsWith(ollama.chat({ model: 'gemma2:9b', messages: HELLO, tools }), 400, '"gemma2:9b" does not support tools');
  });

  test('embed and legacy embeddings: deterministic unit vectors of the model dimension', async () => {
    const e = await ollama.embed({ model: 'nomic-embed-text', input: ['first text', 'second text'] });
    assert.equal(e.model, 'nomic-embed-text');
    assert.equal(e.embeddings.length, 2);
    assert.equal(e.embeddings[0].length, 768);
    assert.ok(Math.abs(Math.hypot(...e.embeddings[0]) - 1) < 1e-9);
    assert.ok(e.prompt_eval_count > 0);
    const again = await ollama.embed({ model: 'nomic-embed-text', input: 'first text' });
    assert.deepEqual(again.embeddings[0], e.embeddings[0]);
    const legacy = await ollama.embeddings({ model: 'nomic-embed-text', prompt: 'first text' });
    assert.deepEqual(legacy.embedding, e.embeddings[0]);
    const short = await ollama.embed({ model: 'nomic-embed-text', input: 'x', dimensions: 256 });
    assert.equal(short.embeddings[0].length, 256);
    await rejectsWith(ollama.chat({ model: 'nomic-embed-text', messages: HELLO }), 400, '"nomic-embed-text" does not support chat');
  });

  test('errors: 404 unknown model, 400 missing model, empty body, bad keep_alive, prompt too long without shift', async () => {
    await rejectsWith(ollama.chat({ model: 'nope:1b', messages: HELLO }), 404, "model 'nope:1b' not found");
    await rejectsWith(ollama.generate({ model: 'nope:1b', prompt: 'x' }), 404, "model 'nope:1b' not found");
    await rejectsWith(ollama.embed({ model: 'nope:1b', input: 'x' }), 404, "model 'nope:1b' not found");
    await rejectsWith(ollama.chat({ model: '', messages: HELLO }), 400, 'model is required');
    const empty = await post('/api/chat', '');
    assert.equal(empty.status, 400);
    assert.deepEqual(await empty.json(), { error: 'missing request body' });
    const badKeepAlive = await post('/api/generate', { model: MODEL, prompt: 'x', keep_alive: '300' });
    assert.equal(badKeepAlive.status, 400);
    assert.deepEqual(await badKeepAlive.json(), { error: 'time: missing unit in duration "300"' });
    const long = 'word '.repeat(600);
    await assert.rejects(ollama.generate({ model: MODEL, prompt: long, options: { num_ctx: 512 }, shift: false } as Parameters<Ollama['generate']>[0]), (err: Error & { status_code?: number }) => {
      assert.equal(err.status_code, 400);
      assert.match(err.message, /^the prompt is longer than the context length currently available to the model;/);
      return true;
    });
    const truncated = await ollama.generate({ model: MODEL, prompt: long, options: { num_ctx: 512 }, stream: false });
    assert.equal(truncated.prompt_eval_count, 512);
  });

  test('preload and unload by empty prompt and keep_alive; ps shows the runner', async () => {
    const name = 'qwen2.5:7b';
    const loaded = await ollama.generate({ model: name, prompt: '', keep_alive: '10m' });
    assert.equal(loaded.done, true);
    assert.equal(loaded.done_reason, 'load');
    assert.equal(loaded.response, '');
    let ps = await ollama.ps();
    const entry = ps.models.find((m) => m.name === name) as unknown as Record<string, unknown>;
    assert.ok(entry);
    assert.deepEqual(Object.keys(entry), ['name', 'model', 'size', 'digest', 'details', 'expires_at', 'size_vram', 'context_length']);
    assert.equal(entry.context_length, 8192);
    assert.ok(new Date(entry.expires_at as string).getTime() > Date.now());
    const unloaded = await ollama.generate({ model: name, prompt: '', keep_alive: 0 });
    assert.equal(unloaded.done_reason, 'unload');
    ps = await ollama.ps();
    assert.equal(ps.models.find((m) => m.name === name), undefined);
    const chatLoad = await ollama.chat({ model: name, messages: [] });
    assert.equal(chatLoad.done_reason, 'load');
    assert.deepEqual(chatLoad.message, { role: 'assistant', content: '' });
    const chatUnload = await ollama.chat({ model: name, messages: [], keep_alive: 0 });
    assert.equal(chatUnload.done_reason, 'unload');
  });

  test('load_duration is the simulated load on first use and near zero after', async () => {
    const first = await ollama.chat({ model: 'phi3:14b', messages: HELLO, stream: false });
    const expected = 7.9 / 10 + 1.5;
    assert.ok(Math.abs(first.load_duration / 1e9 - expected) / expected < 0.02, `load ${first.load_duration / 1e9}s`);
    const second = await ollama.chat({ model: 'phi3:14b', messages: HELLO, stream: false });
    assert.ok(second.load_duration / 1e9 < 0.1, `load ${second.load_duration / 1e9}s`);
  });
});
