import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { InferenceJob } from '@switchyard/contracts';
import { startEdgeHarness, waitFor, type EdgeHarness } from '../../testing/edge-harness';
import { assertCreatedAt, assertDone, assertOllamaError, call, ndjson, ollamaClient } from './ollama-testing';

const PNG_1PX = 'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==';
const NARROW_KEY = 'sk-test-ollama-narrow-0123456789';
const RPM_KEY = 'sk-test-ollama-rpm-0123456789abc';

describe("Ollama's /api/chat and /api/generate (ollama-js and raw NDJSON, fake worker over real Redis)", () => {
  let h: EdgeHarness;
  before(async () => {
    h = await startEdgeHarness({
      keys: {
        [NARROW_KEY]: { keyId: 'key-narrow', userId: 'u-narrow', policy: { allModels: false, allowedModels: ['llama3.1:8b'] } },
        [RPM_KEY]: { keyId: 'key-rpm', userId: 'u-rpm', policy: { requestsPerMinute: 1 } },
      },
    });
  });
  after(async () => {
    await h.close();
  });

  /** The job the worker received for a request whose prompt holds `marker`. */
  const jobFor = async (marker: string): Promise<InferenceJob> =>
    (await waitFor(() =>
      h.worker.received.find((j) => {
        const w = j.work;
        const text = w.kind === 'chat' ? w.messages.map((m) => m.content).join('\n') : w.kind === 'generate' ? w.prompt : w.input.join('\n');
        return text.includes(marker);
      }),
    ))!;

  describe('/api/chat', () => {
    test("curl -d as Ollama's README shows it (JSON labelled as a form, no content type given) is answered", async () => {
      const { ALL_KEY } = await import('../../testing/edge-harness');
      const res = await fetch(`${h.url}/api/chat`, {
        method: 'POST',
        headers: { authorization: `Bearer ${ALL_KEY}`, 'content-type': 'application/x-www-form-urlencoded' },
        body: JSON.stringify({ model: 'llama3.1:8b', stream: false, messages: [{ role: 'user', content: 'curl style' }] }),
      });
      assert.equal(res.status, 200, await res.clone().text());
      const body = (await res.json()) as { done: boolean; message: { content: string } };
      assert.equal(body.done, true);
      assert.ok(body.message.content.length > 0);
    });

    test('stream is the default: NDJSON lines, then a done line with the metrics in ns', async () => {
      const res = await call(h, '/api/chat', { model: 'llama3.1:8b', messages: [{ role: 'user', content: 'Say hello' }] });
      assert.equal(res.status, 200);
      assert.equal(res.headers.get('content-type'), 'application/x-ndjson');
      assert.match(res.headers.get('x-request-id') ?? '', /^req_/);
      const lines = await ndjson(res);
      const last = lines.pop()!;
      assert.ok(lines.length >= 1);
      for (const l of lines) {
        assert.deepEqual(Object.keys(l), ['model', 'created_at', 'message', 'done']);
        assert.equal(l.done, false);
        assertCreatedAt(l);
        assert.deepEqual(Object.keys(l.message as object), ['role', 'content']);
      }
      assert.equal(lines.map((l) => (l.message as { content: string }).content).join(''), 'Hello from the fake worker.');
      assertDone(last, 'chat', 'llama3.1:8b');
      assert.deepEqual(last.message, { role: 'assistant', content: '' });
      assert.equal(last.done_reason, 'stop');
      assert.equal(last.eval_count, 3);
      assert.equal(last.prompt_eval_duration, 1_000_000);
      assert.equal(last.eval_duration, 2_000_000);
    });

    test('stream: false answers one object with the whole message', async () => {
      const res = await call(h, '/api/chat', { model: 'llama3.1:8b', messages: [{ role: 'user', content: 'Say hello [length]' }], stream: false });
      assert.equal(res.status, 200);
      assert.match(res.headers.get('content-type') ?? '', /^application\/json/);
      const body = (await res.json()) as Record<string, unknown>;
      assertDone(body, 'chat', 'llama3.1:8b');
      assert.deepEqual(body.message, { role: 'assistant', content: 'Hello from the fake worker.' });
      assert.equal(body.done_reason, 'length');
    });

    test('through ollama-js: chat, and chat streamed', async () => {
      const ollama = ollamaClient(h);
      const whole = await ollama.chat({ model: 'llama3.1:8b', messages: [{ role: 'user', content: 'hi' }] });
      assert.equal(whole.message.content, 'Hello from the fake worker.');
      assert.equal(whole.done, true);
      assert.equal(whole.eval_count, 3);
      let text = '';
      let done = false;
      for await (const part of await ollama.chat({ model: 'llama3.1:8b', messages: [{ role: 'user', content: 'hi' }], stream: true })) {
        text += part.message.content;
        done = part.done;
      }
      assert.equal(text, 'Hello from the fake worker.');
      assert.ok(done);
    });

    test("tool calls in Ollama's shape, streamed and whole; tools, tool_calls and tool results reach the worker", async () => {
      const tools = [{ type: 'function', function: { name: 'get_weather', description: 'Weather', parameters: { type: 'object', properties: { city: { type: 'string' } } } } }];
      const messages = [
        { role: 'user', content: 'weather? [tool] turn-1' },
        { role: 'assistant', content: '', tool_calls: [{ function: { name: 'get_weather', arguments: { city: 'Oslo' } } }] },
        { role: 'tool', content: '12 degrees', tool_name: 'get_weather' },
      ];
      const whole = (await (await call(h, '/api/chat', { model: 'llama3.1:8b', messages, tools, stream: false })).json()) as Record<string, unknown>;
      assertDone(whole, 'chat', 'llama3.1:8b');
      assert.deepEqual(whole.message, { role: 'assistant', content: '', tool_calls: [{ function: { name: 'get_weather', arguments: { city: 'Paris' } } }] });
      assert.equal(whole.done_reason, 'stop');
      const job = await jobFor('turn-1');
      assert.equal(job.work.kind, 'chat');
      if (job.work.kind !== 'chat') return;
      assert.deepEqual(job.work.tools, tools);
      assert.deepEqual(job.work.messages[1].tool_calls, [{ function: { name: 'get_weather', arguments: { city: 'Oslo' } } }]);
      assert.deepEqual(job.work.messages[2], { role: 'tool', content: '12 degrees', tool_name: 'get_weather' });

      const lines = await ndjson(await call(h, '/api/chat', { model: 'llama3.1:8b', messages: [{ role: 'user', content: '[tool]' }], tools }));
      const withCalls = lines.filter((l) => (l.message as { tool_calls?: unknown }).tool_calls);
      assert.equal(withCalls.length, 1);
      assert.equal(withCalls[0].done, false);
      assert.deepEqual((withCalls[0].message as { tool_calls: unknown }).tool_calls, [{ function: { name: 'get_weather', arguments: { city: 'Paris' } } }]);
      assert.equal(lines.at(-1)?.done_reason, 'stop');
    });

    test('options pass through (no defaults added); num_ctx and keep_alive are ignored; format (a JSON schema) too', async () => {
      const schema = { type: 'object', properties: { a: { type: 'string' } }, required: ['a'] };
      const body = {
        model: 'llama3.1:8b',
        messages: [{ role: 'user', content: '[echo] opts-1' }],
        stream: false,
        format: schema,
        keep_alive: '1h',
        options: { temperature: 0.2, top_p: 0.9, seed: 7, stop: 'END', num_predict: 50, frequency_penalty: 0.5, presence_penalty: 0.25, num_ctx: 65536, top_k: 3, repeat_penalty: 1.1 },
      };
      const res = (await (await call(h, '/api/chat', body)).json()) as { message: { content: string } };
      const echo = JSON.parse(res.message.content) as Record<string, unknown>;
      assert.deepEqual(echo.options, { temperature: 0.2, top_p: 0.9, top_k: 3, seed: 7, stop: ['END'], num_predict: 50, frequency_penalty: 0.5, presence_penalty: 0.25 });
      assert.deepEqual(echo.format, schema);
      assert.equal(echo.numCtx, 8192);
      const bare = (await (await call(h, '/api/chat', { model: 'llama3.1:8b', messages: [{ role: 'user', content: '[echo]' }], stream: false, format: 'json' })).json()) as {
        message: { content: string };
      };
      assert.deepEqual(JSON.parse(bare.message.content), { options: {}, format: 'json', numCtx: 8192 });
    });

    test('num_predict beyond what the model allows is clamped, never refused (-1 means no limit)', async () => {
      const big = (await (await call(h, '/api/chat', { model: 'tiny:1b', messages: [{ role: 'user', content: '[echo]' }], stream: false, options: { num_predict: 100000 } })).json()) as {
        message: { content: string };
      };
      const n = (JSON.parse(big.message.content) as { options: { num_predict: number } }).options.num_predict;
      assert.ok(n > 0 && n <= 128, `num_predict ${n} is within the model's 128`);
      const unlimited = (await (await call(h, '/api/chat', { model: 'tiny:1b', messages: [{ role: 'user', content: '[echo]' }], stream: false, options: { num_predict: -1 } })).json()) as {
        message: { content: string };
      };
      assert.deepEqual(JSON.parse(unlimited.message.content).options, {});
    });

    test('images (base64) reach the worker; a data URL prefix is dropped; bad base64 is a 400', async () => {
      const res = await call(h, '/api/chat', { model: 'llava:13b', stream: false, messages: [{ role: 'user', content: 'what is it? img-1', images: [PNG_1PX, `data:image/png;base64,${PNG_1PX}`] }] });
      assert.equal(res.status, 200);
      const job = await jobFor('img-1');
      assert.deepEqual(job.work.kind === 'chat' && job.work.messages[0].images, [PNG_1PX, PNG_1PX]);
      await assertOllamaError(await call(h, '/api/chat', { model: 'llava:13b', messages: [{ role: 'user', content: 'x', images: ['not base64!'] }] }), 400, /base64/);
    });

    test('messages: [] only loads (nothing is queued); keep_alive 0 answers unload', async () => {
      const before = h.worker.received.length;
      const load = (await (await call(h, '/api/chat', { model: 'llama3.1:8b', messages: [] })).json()) as Record<string, unknown>;
      assert.deepEqual(Object.keys(load), ['model', 'created_at', 'message', 'done_reason', 'done']);
      assert.equal(load.done_reason, 'load');
      assert.equal(load.done, true);
      const unload = (await (await call(h, '/api/chat', { model: 'llama3.1:8b', messages: [], keep_alive: 0 })).json()) as Record<string, unknown>;
      assert.equal(unload.done_reason, 'unload');
      assert.equal(h.worker.received.length, before);
    });

    test('a stream that fails after it started ends with an {"error"} line and no done line; ollama-js throws it', async () => {
      const res = await call(h, '/api/chat', { model: 'llama3.1:8b', messages: [{ role: 'user', content: '[fail-after]' }] });
      assert.equal(res.status, 200);
      const lines = await ndjson(res);
      assert.equal((lines[0].message as { content: string }).content, 'Partial');
      assert.deepEqual(Object.keys(lines.at(-1)!), ['error']);
      assert.match(lines.at(-1)!.error as string, /crashed mid-answer/);
      assert.ok(lines.every((l) => l.done !== true));
      const stream = await ollamaClient(h).chat({ model: 'llama3.1:8b', messages: [{ role: 'user', content: '[fail-after]' }], stream: true });
      await assert.rejects(
        (async () => {
          for await (const part of stream) void part;
        })(),
        /crashed mid-answer/,
      );
    });

    test('a failure before any text: non-stream is the status and {"error"}', async () => {
      await assertOllamaError(await call(h, '/api/chat', { model: 'llama3.1:8b', messages: [{ role: 'user', content: '[fail-before]' }], stream: false }), 502, /crashed/);
    });

    test('errors in Ollama\'s shape: no key, no body, bad JSON, no model, unknown model, embedding model, bad field, prompt too long', async () => {
      await assertOllamaError(await call(h, '/api/chat', { model: 'llama3.1:8b', messages: [] }, null), 401);
      await assertOllamaError(await call(h, '/api/chat', '{"model": '), 400);
      await assertOllamaError(await call(h, '/api/chat', { messages: [{ role: 'user', content: 'x' }] }), 400, /^model is required$/);
      await assertOllamaError(await call(h, '/api/chat', { model: 'nope:1b', messages: [{ role: 'user', content: 'x' }] }), 404, /^model 'nope:1b' not found$/);
      await assertOllamaError(await call(h, '/api/chat', { model: 'nomic-embed-text', messages: [{ role: 'user', content: 'x' }] }), 400, /^"nomic-embed-text" does not support chat$/);
      await assertOllamaError(await call(h, '/api/chat', { model: 'llama3.1:8b', messages: [{ role: 'robot', content: 'x' }] }), 400, /messages\[0\]\.role/);
      await assertOllamaError(await call(h, '/api/chat', { model: 'llama3.1:8b', messages: [{ role: 'user', content: 'x' }], options: { temperature: 'hot' } }), 400, /temperature/);
      await assertOllamaError(await call(h, '/api/chat', { model: 'tiny:1b', messages: [{ role: 'user', content: 'x'.repeat(3000) }] }), 400, /context length/);
      await assert.rejects(ollamaClient(h).chat({ model: 'nope:1b', messages: [{ role: 'user', content: 'x' }] }), (err: { status_code: number; error: string }) => {
        assert.equal(err.status_code, 404);
        assert.equal(err.error, "model 'nope:1b' not found");
        return true;
      });
    });
  });

  describe('/api/generate', () => {
    test('stream is the default; the done line has done before done_reason, as Ollama writes it', async () => {
      const res = await call(h, '/api/generate', { model: 'codellama:13b', prompt: 'def fib(' });
      assert.equal(res.headers.get('content-type'), 'application/x-ndjson');
      const lines = await ndjson(res);
      const last = lines.pop()!;
      for (const l of lines) assert.deepEqual(Object.keys(l), ['model', 'created_at', 'response', 'done']);
      assert.equal(lines.map((l) => l.response).join(''), 'Hello from the fake worker.');
      assertDone(last, 'generate', 'codellama:13b');
      assert.equal(last.response, '');
    });

    test('suffix is fill-in-the-middle on the worker\'s generate; stream: false answers the whole text', async () => {
      const res = await call(h, '/api/generate', { model: 'codellama:13b', prompt: 'def add(a, b): fim-1', suffix: '\n\nprint(add(1, 2))', stream: false });
      const body = (await res.json()) as Record<string, unknown>;
      assertDone(body, 'generate', 'codellama:13b');
      assert.equal(body.response, 'Hello from the fake worker.');
      const job = await jobFor('fim-1');
      assert.deepEqual(job.work, { kind: 'generate', prompt: 'def add(a, b): fim-1', suffix: '\n\nprint(add(1, 2))', options: {} });
      const viaJs = await ollamaClient(h).generate({ model: 'codellama:13b', prompt: 'x', suffix: 'y' });
      assert.equal(viaJs.response, 'Hello from the fake worker.');
      assert.equal(viaJs.done, true);
    });

    test('system and images make the one-turn chat Ollama renders them as; raw stays a generate', async () => {
      await call(h, '/api/generate', { model: 'llava:13b', prompt: 'describe gen-sys', system: 'Be terse.', images: [PNG_1PX], stream: false });
      const job = await jobFor('gen-sys');
      assert.equal(job.work.kind, 'chat');
      assert.deepEqual(job.work.kind === 'chat' && job.work.messages, [
        { role: 'system', content: 'Be terse.' },
        { role: 'user', content: 'describe gen-sys', images: [PNG_1PX] },
      ]);
      await call(h, '/api/generate', { model: 'codellama:13b', prompt: '<PRE> gen-raw', raw: true, stream: false, options: { temperature: 0 } });
      assert.deepEqual((await jobFor('gen-raw')).work, { kind: 'generate', prompt: '<PRE> gen-raw', raw: true, options: { temperature: 0 } });
    });

    test('no prompt only loads; errors in Ollama\'s shape', async () => {
      const load = (await (await call(h, '/api/generate', { model: 'codellama:13b' })).json()) as Record<string, unknown>;
      assert.deepEqual(Object.keys(load), ['model', 'created_at', 'response', 'done', 'done_reason']);
      assert.equal(load.done_reason, 'load');
      await assertOllamaError(await call(h, '/api/generate', { model: 'nope', prompt: 'x' }), 404, /^model 'nope' not found$/);
      await assertOllamaError(await call(h, '/api/generate', { model: 'nomic-embed-text', prompt: 'x' }), 400, /does not support generate/);
      await assertOllamaError(await call(h, '/api/generate', { model: 'codellama:13b', prompt: 'x', format: 'yaml' }), 400, /format/);
      await assertOllamaError(await call(h, '/api/generate', { model: 'codellama:13b', prompt: 'x', suffix: 'y', images: [PNG_1PX] }), 400, /images/);
    });

    test('a stream that fails after it started ends with an {"error"} line', async () => {
      const lines = await ndjson(await call(h, '/api/generate', { model: 'codellama:13b', prompt: '[fail-after]' }));
      assert.equal(lines[0].response, 'Partial');
      assert.deepEqual(Object.keys(lines.at(-1)!), ['error']);
    });
  });

  describe('the same key, allow-list and limits as the OpenAI routes', () => {
    test('a key limited to llama3.1:8b may chat with it, and gets 403 for another model on /api/chat and /api/generate', async () => {
      const ok = await call(h, '/api/chat', { model: 'llama3.1:8b', messages: [{ role: 'user', content: 'hi' }], stream: false }, NARROW_KEY);
      assert.equal(ok.status, 200);
      const before = h.worker.received.length;
      await assertOllamaError(await call(h, '/api/chat', { model: 'codellama:13b', messages: [{ role: 'user', content: 'hi' }] }, NARROW_KEY), 403, /codellama:13b/);
      await assertOllamaError(await call(h, '/api/chat', { model: 'codellama:13b', messages: [] }, NARROW_KEY), 403);
      await assertOllamaError(await call(h, '/api/generate', { model: 'codellama:13b', prompt: 'x' }, NARROW_KEY), 403, /codellama:13b/);
      await assertOllamaError(await call(h, '/api/generate', { model: 'codellama:13b' }, NARROW_KEY), 403);
      assert.equal(h.worker.received.length, before);
    });

    test('requests per minute: the second request is a 429 {"error"} with Retry-After', async () => {
      assert.equal((await call(h, '/api/generate', { model: 'codellama:13b', prompt: 'x', stream: false }, RPM_KEY)).status, 200);
      const res = await call(h, '/api/chat', { model: 'llama3.1:8b', messages: [{ role: 'user', content: 'x' }] }, RPM_KEY);
      await assertOllamaError(res, 429, /Rate limit/);
      assert.ok(Number(res.headers.get('retry-after')) > 0);
    });

    test('requests are counted under their own route labels', async () => {
      const text = await h.metrics();
      assert.match(text, /switchyard_edge_requests_total\{route="api\/chat",model="llama3.1:8b",status="200"\}/);
      assert.match(text, /switchyard_edge_requests_total\{route="api\/generate",model="codellama:13b",status="200"\}/);
    });
  });
});
