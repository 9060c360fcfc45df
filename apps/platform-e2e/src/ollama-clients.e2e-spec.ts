import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Ollama } from 'ollama';
import { ChatOllama } from '@langchain/ollama';
import { AIMessageChunk } from '@langchain/core/messages';
import { admin, startPlatform, type Platform } from './platform';

/**
 * Ollama's native API at the edge's root on the whole platform (launcher, simulated GPUs), driven by
 * the clients that speak it, pointed at the edge instead of an Ollama: the `ollama` npm client with
 * the key in its `headers`, and LangChain's `ChatOllama` with `baseUrl` and `headers`.
 */
let p: Platform;
let ollama: Ollama;

const auth = (key: string) => ({ Authorization: `Bearer ${key}` });

before(async () => {
  p = await startPlatform();
  ollama = new Ollama({ host: p.baseUrl, headers: auth(p.demoKey) });
});

after(async () => {
  await p?.stop();
});

describe('the ollama client (ollama-js)', () => {
  test('list: the catalogue, in Ollama\'s shape', async () => {
    const { models } = await ollama.list();
    const names = models.map((m) => m.name);
    for (const m of ['llama3.1:8b', 'codellama:13b', 'codestral:22b', 'mistral-large:123b', 'nomic-embed-text']) assert.ok(names.includes(m), `${m} listed`);
    const llama = models.find((m) => m.name === 'llama3.1:8b')!;
    assert.equal(llama.details.format, 'gguf');
    assert.ok(llama.size > 0);
  });

  test('ps: the pinned model is resident across the pool, with the catalogue\'s window', async () => {
    const until = Date.now() + 20_000;
    let resident = (await ollama.ps()).models;
    while (!resident.some((m) => m.name === 'llama3.1:8b') && Date.now() < until) {
      await new Promise((r) => setTimeout(r, 250));
      resident = (await ollama.ps()).models;
    }
    const llama = resident.find((m) => m.name === 'llama3.1:8b');
    assert.ok(llama, 'llama3.1:8b is resident');
    assert.equal((llama as unknown as { context_length: number }).context_length, 8192);
  });

  test('show: the fixed context window', async () => {
    const card = await ollama.show({ model: 'mistral-large:123b' });
    const windows = Object.entries(card.model_info).filter(([k]) => k.endsWith('.context_length'));
    assert.deepEqual(windows.map(([, v]) => v), [4096]);
    assert.deepEqual(card.capabilities, ['completion']);
  });

  test('chat, not streamed: the whole message with the metrics', async () => {
    const r = await ollama.chat({ model: 'llama3.1:8b', messages: [{ role: 'user', content: 'Why is the sky blue?' }], options: { num_predict: 16, num_ctx: 131072 }, keep_alive: '5m' });
    assert.ok(r.message.content.length > 0);
    assert.equal(r.done, true);
    assert.equal(r.done_reason, 'length');
    assert.equal(r.eval_count, 16);
    assert.ok(r.prompt_eval_count > 0);
    assert.ok(r.total_duration >= r.eval_duration && r.eval_duration > 0);
  });

  test('chat, streamed: parts add up, the last is done with the counts', async () => {
    let text = '';
    let last: Awaited<ReturnType<typeof ollama.chat>> | undefined;
    for await (const part of await ollama.chat({ model: 'llama3.1:8b', messages: [{ role: 'user', content: 'Tell me about GPUs.' }], options: { num_predict: 12 }, stream: true })) {
      text += part.message.content;
      last = part;
    }
    assert.ok(text.length > 0);
    assert.equal(last?.done, true);
    assert.equal(last?.eval_count, 12);
  });

  test('chat with tools: Ollama\'s tool calls; format as a JSON schema: JSON', async () => {
    const tools = [{ type: 'function', function: { name: 'get_weather', description: 'The weather', parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] } } }];
    const called = await ollama.chat({ model: 'llama3.1:8b', messages: [{ role: 'user', content: 'Weather in Paris?' }], tools });
    assert.equal(called.message.tool_calls?.[0].function.name, 'get_weather');
    assert.equal(typeof called.message.tool_calls?.[0].function.arguments, 'object');
    const schema = { type: 'object', properties: { answer: { type: 'string' } }, required: ['answer'] };
    const json = await ollama.chat({ model: 'llama3.1:8b', messages: [{ role: 'user', content: 'Answer in JSON.' }], format: schema });
    assert.equal(typeof (JSON.parse(json.message.content) as { answer: unknown }).answer, 'string');
  });

  test('generate with suffix (fill-in-the-middle), streamed and not', async () => {
    const r = await ollama.generate({ model: 'codestral:22b', prompt: 'def add(a, b):\n    ', suffix: '\n\nprint(add(1, 2))', options: { num_predict: 8 } });
    assert.ok((r.response ?? '').length > 0);
    assert.equal(r.done, true);
    let streamed = '';
    for await (const part of await ollama.generate({ model: 'codestral:22b', prompt: 'def sub(a, b):\n    ', suffix: '\n', options: { num_predict: 8 }, stream: true })) streamed += part.response;
    assert.ok(streamed.length > 0);
  });

  test('embed, and the legacy embeddings', async () => {
    const r = await ollama.embed({ model: 'nomic-embed-text', input: ['first text', 'second text'] });
    assert.equal(r.embeddings.length, 2);
    assert.ok(r.embeddings[0].length > 0);
    assert.notDeepEqual(r.embeddings[0], r.embeddings[1]);
    const legacy = await ollama.embeddings({ model: 'nomic-embed-text', prompt: 'first text' });
    assert.equal(legacy.embedding.length, r.embeddings[0].length);
  });

  test('a key limited to one model: the others are refused on every route; what it uses is in the ledger', async () => {
    const k = await admin(p).createKey({ models: ['llama3.1:8b'] });
    const limited = new Ollama({ host: p.baseUrl, headers: auth(k.key) });
    assert.deepEqual((await limited.list()).models.map((m) => m.name), ['llama3.1:8b']);
    const refused = (status: number) => (err: { status_code?: number }) => err.status_code === status;
    await assert.rejects(limited.chat({ model: 'mistral:7b', messages: [{ role: 'user', content: 'hi' }] }), refused(403));
    await assert.rejects(limited.generate({ model: 'codestral:22b', prompt: 'x', suffix: 'y' }), refused(403));
    await assert.rejects(limited.embed({ model: 'nomic-embed-text', input: 'x' }), refused(403));
    await assert.rejects(limited.embeddings({ model: 'nomic-embed-text', prompt: 'x' }), refused(403));
    await assert.rejects(limited.show({ model: 'mistral:7b' }), refused(404));
    await assert.rejects(limited.pull({ model: 'mistral:7b' }), refused(403));
    await limited.chat({ model: 'llama3.1:8b', messages: [{ role: 'user', content: 'one' }], options: { num_predict: 5 } });
    for await (const _ of await limited.generate({ model: 'llama3.1:8b', prompt: 'two', options: { num_predict: 7 }, stream: true })) void _;
    const until = Date.now() + 5000;
    let usage = await admin(p).usage(k.id);
    while (usage.totals.requests < 2 && Date.now() < until) {
      await new Promise((r) => setTimeout(r, 100));
      usage = await admin(p).usage(k.id);
    }
    assert.equal(usage.totals.requests, 2);
    assert.equal(usage.totals.completionTokens, 12);
  });
});

describe("LangChain's ChatOllama (@langchain/ollama)", () => {
  const chat = () => new ChatOllama({ model: 'llama3.1:8b', baseUrl: p.baseUrl, headers: auth(p.demoKey), numPredict: 12, temperature: 0 });

  test('invoke: a message with usage', async () => {
    const m = await chat().invoke('Why is the sky blue?');
    assert.ok(typeof m.content === 'string' && m.content.length > 0);
    assert.ok((m.usage_metadata?.input_tokens ?? 0) > 0);
    assert.equal(m.usage_metadata?.output_tokens, 12);
  });

  test('stream: chunks add up to the answer', async () => {
    let whole: AIMessageChunk | undefined;
    for await (const chunk of await chat().stream('Tell me about GPUs.')) whole = whole ? whole.concat(chunk) : chunk;
    assert.ok(typeof whole?.content === 'string' && whole.content.length > 0);
  });
});
