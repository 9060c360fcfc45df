import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import OpenAI from 'openai';
import { RunningSimulator, startSimulator } from './server';

const MODEL = 'llama3.1:8b';
const HELLO: OpenAI.Chat.ChatCompletionMessageParam[] = [{ role: 'user', content: 'Say hello to the simulator.' }];

describe('OpenAI layer through the openai client', () => {
  let sim: RunningSimulator;
  let url: string;
  let client: OpenAI;

  before(async () => {
    sim = await startSimulator({ port: 0, timeScale: 1000, contextLength: 8192, logLevel: 'silent' });
    url = sim.urls[0];
    client = new OpenAI({ baseURL: `${url}/v1`, apiKey: 'ollama', maxRetries: 0 });
  });
  after(() => sim.close());

  test('models: list and retrieve; an unknown model is a not_found_error', async () => {
    const list = await client.models.list();
    const ids = list.data.map((m) => m.id);
    assert.ok(ids.includes(MODEL));
    assert.ok(ids.includes('nomic-embed-text:latest'));
    assert.equal(list.data[0].object, 'model');
    assert.equal(list.data[0].owned_by, 'library');
    const one = await client.models.retrieve(MODEL);
    assert.equal(one.id, MODEL);
    assert.equal(typeof one.created, 'number');
    await assert.rejects(client.models.retrieve('nope:1b'), (err: unknown) => {
      assert.ok(err instanceof OpenAI.NotFoundError);
      assert.deepEqual(err.error, { message: "model 'nope:1b' not found", type: 'not_found_error', param: null, code: null });
      return true;
    });
  });

  test('chat completion: Ollama answer shape, usage, max_tokens → length', async () => {
    const r = await client.chat.completions.create({ model: MODEL, messages: HELLO });
    assert.match(r.id, /^chatcmpl-\d+$/);
    assert.equal(r.object, 'chat.completion');
    assert.equal(r.system_fingerprint, 'fp_ollama');
    assert.equal(r.model, MODEL);
    assert.equal(r.choices[0].message.role, 'assistant');
    assert.ok((r.choices[0].message.content ?? '').length > 0);
    assert.equal(r.choices[0].finish_reason, 'stop');
    assert.ok(r.usage && r.usage.prompt_tokens > 0 && r.usage.completion_tokens > 0);
    assert.equal(r.usage?.total_tokens, (r.usage?.prompt_tokens ?? 0) + (r.usage?.completion_tokens ?? 0));
    const cut = await client.chat.completions.create({ model: MODEL, messages: HELLO, max_tokens: 3 });
    assert.equal(cut.choices[0].finish_reason, 'length');
    assert.equal(cut.usage?.completion_tokens, 3);
  });

  test('chat stream: role in the first chunk only, one created, finish chunk, usage chunk, [DONE]', async () => {
    const whole = await client.chat.completions.create({ model: MODEL, messages: HELLO });
    const chunks: OpenAI.Chat.ChatCompletionChunk[] = [];
    const stream = await client.chat.completions.create({ model: MODEL, messages: HELLO, stream: true, stream_options: { include_usage: true } });
    for await (const c of stream) chunks.push(c);
    const content = chunks.slice(0, -2);
    assert.equal(content[0].choices[0].delta.role, 'assistant');
    for (const c of content.slice(1)) assert.equal(c.choices[0].delta.role, undefined);
    for (const c of content) assert.equal(c.choices[0].finish_reason, null);
    assert.equal(content.map((c) => c.choices[0].delta.content).join(''), whole.choices[0].message.content);
    const finish = chunks[chunks.length - 2];
    assert.deepEqual(finish.choices, [{ index: 0, delta: {}, finish_reason: 'stop' }]);
    const usage = chunks[chunks.length - 1];
    assert.deepEqual(usage.choices, []);
    assert.equal(usage.usage?.completion_tokens, whole.usage?.completion_tokens);
    assert.equal(new Set(chunks.map((c) => c.created)).size, 1);
    assert.equal(new Set(chunks.map((c) => c.id)).size, 1);
    assert.ok(chunks.every((c) => c.object === 'chat.completion.chunk' && c.system_fingerprint === 'fp_ollama'));

    const raw = await fetch(`${url}/v1/chat/completions`, { method: 'POST', body: JSON.stringify({ model: MODEL, messages: HELLO, stream: true }) });
    assert.equal(raw.headers.get('content-type'), 'text/event-stream');
    const text = await raw.text();
    assert.ok(text.endsWith('data: [DONE]\n\n'));
    assert.ok(text.split('\n\n').filter(Boolean).every((e) => e.startsWith('data: ')));
  });

  test('tools: tool_calls with arguments as a JSON string and finish_reason tool_calls, streamed too', async () => {
    const tools: OpenAI.Chat.ChatCompletionTool[] = [
      { type: 'function', function: { name: 'get_weather', parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] } } },
    ];
    const r = await client.chat.completions.create({ model: MODEL, messages: [{ role: 'user', content: 'Weather in Paris?' }], tools });
    assert.equal(r.choices[0].finish_reason, 'tool_calls');
    const call = r.choices[0].message.tool_calls?.[0];
    assert.ok(call && call.type === 'function');
    assert.match(call.id, /^call_[a-z0-9]{8}$/);
    assert.equal(call.function.name, 'get_weather');
    assert.equal(typeof (JSON.parse(call.function.arguments) as { city: unknown }).city, 'string');
    const chunks: OpenAI.Chat.ChatCompletionChunk[] = [];
    for await (const c of await client.chat.completions.create({ model: MODEL, messages: [{ role: 'user', content: 'Weather in Paris?' }], tools, stream: true })) chunks.push(c);
    assert.equal(chunks[0].choices[0].delta.tool_calls?.[0].function?.name, 'get_weather');
    assert.equal(chunks[chunks.length - 1].choices[0].finish_reason, 'tool_calls');
  });

  test('response_format json_object and json_schema give valid JSON', async () => {
    const j = await client.chat.completions.create({ model: MODEL, messages: HELLO, response_format: { type: 'json_object' } });
    assert.equal(typeof JSON.parse(j.choices[0].message.content ?? ''), 'object');
    const s = await client.chat.completions.create({
      model: MODEL,
      messages: HELLO,
      response_format: { type: 'json_schema', json_schema: { name: 'x', schema: { type: 'object', properties: { ok: { type: 'boolean' } }, required: ['ok'] } } },
    });
    assert.equal(typeof (JSON.parse(s.choices[0].message.content ?? '') as { ok: unknown }).ok, 'boolean');
  });

  test('completions: text, suffix, streaming with a finish chunk and usage', async () => {
    const r = await client.completions.create({ model: MODEL, prompt: 'Once upon a time' });
    assert.match(r.id, /^cmpl-\d+$/);
    assert.equal(r.object, 'text_completion');
    assert.ok(r.choices[0].text.length > 0);
    assert.equal(r.choices[0].finish_reason, 'stop');
    const parts: string[] = [];
    let finish: string | null = null;
    let usage: OpenAI.CompletionUsage | undefined;
    for await (const c of await client.completions.create({ model: MODEL, prompt: 'Once upon a time', stream: true, stream_options: { include_usage: true } })) {
      if (c.choices.length > 0) {
        parts.push(c.choices[0].text);
        finish = c.choices[0].finish_reason ?? finish;
      }
      usage = c.usage ?? usage;
    }
    assert.equal(parts.join(''), r.choices[0].text);
    assert.equal(finish, 'stop');
    assert.equal(usage?.completion_tokens, r.usage?.completion_tokens);
    const fim = await client.completions.create({ model: 'codestral:22b', prompt: 'def f(x):', suffix: 'return y', max_tokens: 4 });
    assert.equal(fim.choices[0].finish_reason, 'length');
  });

  test('embeddings: float and base64 (the client default), dimensions', async () => {
    const e = await client.embeddings.create({ model: 'nomic-embed-text', input: ['a', 'b'] });
    assert.equal(e.object, 'list');
    assert.equal(e.data.length, 2);
    assert.equal(e.data[1].index, 1);
    assert.equal(e.data[0].embedding.length, 768);
    const float = await client.embeddings.create({ model: 'nomic-embed-text', input: 'a', encoding_format: 'float' });
    assert.ok(float.data[0].embedding.every((x, i) => Math.abs(x - e.data[0].embedding[i]) < 1e-6));
    const small = await client.embeddings.create({ model: 'nomic-embed-text', input: 'a', dimensions: 64, encoding_format: 'float' });
    assert.equal(small.data[0].embedding.length, 64);
    assert.ok(e.usage.prompt_tokens > 0);
  });

  test('errors: invalid_request_error 400 and not_found_error 404 bodies', async () => {
    await assert.rejects(client.chat.completions.create({ model: MODEL, messages: [] }), (err: unknown) => {
      assert.ok(err instanceof OpenAI.BadRequestError);
      assert.deepEqual(err.error, { message: "[] is too short - 'messages'", type: 'invalid_request_error', param: null, code: null });
      return true;
    });
    await assert.rejects(client.chat.completions.create({ model: 'nope:1b', messages: HELLO }), (err: unknown) => {
      assert.ok(err instanceof OpenAI.NotFoundError);
      assert.equal((err.error as { message: string }).message, "model 'nope:1b' not found");
      return true;
    });
    await assert.rejects(client.embeddings.create({ model: 'nope:1b', input: 'x' }), OpenAI.NotFoundError);
  });
});
