import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { APIError } from 'openai';
import { assertOpenAISchema } from '@switchyard/testing';
import { ALL_KEY, readSse, startEdgeHarness, type EdgeHarness } from '../../testing/edge-harness';

const PNG_1PX = 'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==';

describe('POST chat/completions (official openai client, fake worker over real Redis)', () => {
  let h: EdgeHarness;
  before(async () => {
    h = await startEdgeHarness();
  });
  after(async () => {
    await h.close();
  });

  for (const base of ['v1', 'api'] as const) {
    test(`non-stream answer under /${base}/ is OpenAI's chat.completion`, async () => {
      const { data, response } = await h
        .client(ALL_KEY, base)
        .chat.completions.create({ model: 'llama3.1:8b', messages: [{ role: 'user', content: 'Say hello' }] })
        .withResponse();
      assertOpenAISchema('CreateChatCompletionResponse', data);
      assert.equal(data.choices[0].message.content, 'Hello from the fake worker.');
      assert.equal(data.choices[0].finish_reason, 'stop');
      assert.equal(data.usage?.completion_tokens, 3);
      assert.equal(data.usage?.total_tokens, (data.usage?.prompt_tokens ?? 0) + 3);
      assert.match(response.headers.get('x-request-id') ?? '', /^req_/);
      assert.match(response.headers.get('content-type') ?? '', /^application\/json/);
    });
  }

  test('stream: role in the first delta, shared id and created, finish chunk, usage chunk, [DONE]', async () => {
    const stream = await h.client().chat.completions.create({
      model: 'llama3.1:8b',
      messages: [{ role: 'system', content: 'Be brief.' }, { role: 'user', content: 'Say hello' }],
      stream: true,
      stream_options: { include_usage: true },
    });
    const chunks = [];
    for await (const chunk of stream) {
      assertOpenAISchema('CreateChatCompletionStreamResponse', chunk);
      chunks.push(chunk);
    }
    assert.equal(chunks[0].choices[0].delta.role, 'assistant');
    assert.ok(chunks.slice(1).every((c) => c.choices[0]?.delta.role === undefined));
    assert.equal(new Set(chunks.map((c) => c.id)).size, 1);
    assert.equal(new Set(chunks.map((c) => c.created)).size, 1);
    const text = chunks.map((c) => c.choices[0]?.delta.content ?? '').join('');
    assert.equal(text, 'Hello from the fake worker.');
    const finish = chunks[chunks.length - 2];
    assert.equal(finish.choices[0].finish_reason, 'stop');
    assert.deepEqual(finish.choices[0].delta, {});
    const usage = chunks[chunks.length - 1];
    assert.deepEqual(usage.choices, []);
    assert.equal(usage.usage?.completion_tokens, 3);
  });

  test('stream without include_usage has no usage chunk; the stream helper accepts it', async () => {
    const runner = h.client().chat.completions.stream({ model: 'llama3.1:8b', messages: [{ role: 'user', content: 'hi [length]' }] });
    const chunks: unknown[] = [];
    runner.on('chunk', (c) => chunks.push(c));
    const final = await runner.finalChatCompletion();
    assert.equal(final.choices[0].message.content, 'Hello from the fake worker.');
    assert.equal(final.choices[0].finish_reason, 'length');
    for (const c of chunks) assertOpenAISchema('CreateChatCompletionStreamResponse', c);
    assert.ok(chunks.every((c) => (c as { choices: unknown[] }).choices.length === 1));
  });

  test('raw SSE: text/event-stream, no-cache, x-request-id, keep-alive comments while the job waits, [DONE] last', async () => {
    const res = await fetch(`${h.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${ALL_KEY}`, 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'llama3.1:8b', messages: [{ role: 'user', content: 'wait [delay:350]' }], stream: true }),
    });
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type') ?? '', /^text\/event-stream/);
    assert.equal(res.headers.get('cache-control'), 'no-cache');
    assert.match(res.headers.get('x-request-id') ?? '', /^req_/);
    const events = await readSse(res);
    const firstData = events.findIndex((e) => e.data !== undefined);
    assert.ok(events.slice(0, firstData).filter((e) => e.comment !== undefined).length >= 2, 'keep-alive comments before the first chunk');
    assert.equal(events[events.length - 1].data, '[DONE]');
    for (const e of events) if (e.data && e.data !== '[DONE]') assertOpenAISchema('CreateChatCompletionStreamResponse', JSON.parse(e.data));
  });

  test('tools: tool_calls with JSON-string arguments and finish_reason tool_calls, stream and not', async () => {
    const tools = [
      {
        type: 'function' as const,
        function: { name: 'get_weather', description: 'Weather of a city', parameters: { type: 'object', properties: { city: { type: 'string' } } } },
      },
    ];
    const c = h.client();
    const whole = await c.chat.completions.create({ model: 'llama3.1:8b', messages: [{ role: 'user', content: 'weather? [tool]' }], tools });
    assertOpenAISchema('CreateChatCompletionResponse', whole);
    const msg = whole.choices[0].message;
    assert.equal(whole.choices[0].finish_reason, 'tool_calls');
    assert.equal(msg.content, null);
    assert.equal(msg.tool_calls?.length, 1);
    const call = msg.tool_calls?.[0];
    assert.ok(call && call.type === 'function');
    assert.equal(call.function.name, 'get_weather');
    assert.deepEqual(JSON.parse(call.function.arguments), { city: 'Paris' });
    assert.match(call.id, /^call_/);
    const job = h.worker.received[h.worker.received.length - 1];
    assert.ok(job.work.kind === 'chat');
    assert.deepEqual(job.work.tools, tools);

    const runner = c.chat.completions.stream({ model: 'llama3.1:8b', messages: [{ role: 'user', content: 'weather? [tool]' }], tools });
    const chunks: unknown[] = [];
    runner.on('chunk', (ch) => chunks.push(ch));
    const final = await runner.finalChatCompletion();
    for (const ch of chunks) assertOpenAISchema('CreateChatCompletionStreamResponse', ch);
    assert.equal(final.choices[0].finish_reason, 'tool_calls');
    const streamed = final.choices[0].message.tool_calls?.[0];
    assert.ok(streamed && streamed.type === 'function');
    assert.deepEqual(JSON.parse(streamed.function.arguments), { city: 'Paris' });
  });

  test('translation: options, formats, images, assistant tool calls, tool results, fixed num_ctx', async () => {
    const c = h.client();
    await c.chat.completions.create({
      model: 'llava:13b',
      messages: [
        { role: 'developer', content: 'You see images.' },
        {
          role: 'user',
          content: [
            { type: 'text', text: 'What is this? [echo]' },
            { type: 'image_url', image_url: { url: `data:image/png;base64,${PNG_1PX}` } },
          ],
        },
        { role: 'assistant', content: null, tool_calls: [{ id: 'call_a', type: 'function', function: { name: 'look', arguments: '{"zoom":2}' } }] },
        { role: 'tool', tool_call_id: 'call_a', content: 'a pixel' },
      ],
      max_tokens: 64,
      stop: 'END',
      seed: 7,
      temperature: 0.2,
      frequency_penalty: 0.5,
      presence_penalty: -0.5,
      response_format: { type: 'json_object' },
    });
    const job = h.worker.received[h.worker.received.length - 1];
    assert.equal(job.model, 'llava:13b');
    assert.equal(job.numCtx, 8192);
    assert.equal(job.pool, 'shared');
    assert.equal(job.priority, 'interactive');
    assert.equal(job.keyId, 'key-all');
    assert.ok(job.work.kind === 'chat');
    assert.deepEqual(job.work.options, { temperature: 0.2, top_p: 1, seed: 7, stop: ['END'], num_predict: 64, frequency_penalty: 0.5, presence_penalty: -0.5 });
    assert.equal(job.work.format, 'json');
    assert.deepEqual(job.work.messages[0], { role: 'system', content: 'You see images.' });
    assert.deepEqual(job.work.messages[1], { role: 'user', content: 'What is this? [echo]', images: [PNG_1PX] });
    assert.deepEqual(job.work.messages[2], { role: 'assistant', content: '', tool_calls: [{ function: { name: 'look', arguments: { zoom: 2 } } }] });
    assert.deepEqual(job.work.messages[3], { role: 'tool', content: 'a pixel', tool_name: 'look' });

    const schema = { type: 'object', properties: { answer: { type: 'string' } }, required: ['answer'] };
    await c.chat.completions.create({
      model: 'llama3.1:8b',
      messages: [{ role: 'user', content: 'json please [echo]' }],
      max_completion_tokens: 32,
      response_format: { type: 'json_schema', json_schema: { name: 'answer', schema } },
    });
    const job2 = h.worker.received[h.worker.received.length - 1];
    assert.ok(job2.work.kind === 'chat');
    assert.deepEqual(job2.work.format, schema);
    assert.deepEqual(job2.work.options, { temperature: 1, top_p: 1, num_predict: 32 });
  });

  test("stop sequences as editors send them: Continue's six are accepted and passed on; past 16 the 400 names the cap", async () => {
    const stops = ['[PREFIX]', '[SUFFIX]', '[MIDDLE]', '\n\n', '/src/', '```'];
    await h.client().chat.completions.create({ model: 'llama3.1:8b', messages: [{ role: 'user', content: 'hi' }], stop: stops });
    const job = h.worker.received[h.worker.received.length - 1];
    assert.ok(job.work.kind === 'chat');
    assert.deepEqual(job.work.options.stop, stops);
    await assert.rejects(
      h.client().chat.completions.create({ model: 'llama3.1:8b', messages: [{ role: 'user', content: 'hi' }], stop: Array.from({ length: 17 }, (_, i) => `s${i}`) }),
      (err: unknown) => {
        assert.ok(err instanceof APIError);
        assert.equal(err.status, 400);
        assert.equal(err.param, 'stop');
        assert.match(err.message, /at most 16 stop sequences/);
        return true;
      },
    );
  });

  test('n other than 1, logprobs, bad images and malformed tool arguments get a clear 400', async () => {
    const c = h.client();
    const cases: Array<[Parameters<typeof c.chat.completions.create>[0], string]> = [
      [{ model: 'llama3.1:8b', messages: [{ role: 'user', content: 'x' }], n: 2 }, 'n'],
      [{ model: 'llama3.1:8b', messages: [{ role: 'user', content: 'x' }], logprobs: true }, 'logprobs'],
      [
        { model: 'llava:13b', messages: [{ role: 'user', content: [{ type: 'image_url', image_url: { url: 'https://example.com/cat.png' } }] }] },
        'messages[0].content[0].image_url.url',
      ],
      [
        {
          model: 'llama3.1:8b',
          messages: [{ role: 'assistant', tool_calls: [{ id: 'c', type: 'function', function: { name: 'f', arguments: 'not json' } }] }],
        },
        'messages[0].tool_calls[0].function.arguments',
      ],
      [{ model: 'llama3.1:8b', messages: [] }, 'messages'],
      [{ model: 'llama3.1:8b', messages: [{ role: 'user', content: 'x' }], temperature: 3 }, 'temperature'],
    ];
    for (const [body, param] of cases) {
      await assert.rejects(c.chat.completions.create({ ...body, stream: false }), (err: unknown) => {
        assert.ok(err instanceof APIError, String(err));
        assert.equal(err.status, 400);
        assert.equal(err.param, param);
        assert.equal(err.type, 'invalid_request_error');
        assert.equal(err.headers?.get('x-should-retry'), 'false');
        assertOpenAISchema('ErrorResponse', { error: err.error });
        return true;
      });
    }
  });

  test('a worker failure before any token: non-stream gets its status in OpenAI shape', async () => {
    await assert.rejects(
      h.client().chat.completions.create({ model: 'llama3.1:8b', messages: [{ role: 'user', content: 'x [fail-before]' }] }),
      (err: unknown) => {
        assert.ok(err instanceof APIError);
        assert.equal(err.status, 502);
        assert.equal(err.code, 'worker_error');
        assert.match(err.requestID ?? '', /^req_/);
        assertOpenAISchema('ErrorResponse', { error: err.error });
        return true;
      },
    );
  });

  test('a failure after the stream started is an in-band error the SDK throws, without [DONE]', async () => {
    const stream = await h.client().chat.completions.create({ model: 'llama3.1:8b', messages: [{ role: 'user', content: 'x [fail-after]' }], stream: true });
    const seen: string[] = [];
    await assert.rejects(
      (async () => {
        for await (const chunk of stream) {
          assertOpenAISchema('CreateChatCompletionStreamResponse', chunk);
          seen.push(chunk.choices[0]?.delta.content ?? '');
        }
      })(),
      (err: unknown) => {
        assert.ok(err instanceof APIError);
        assert.equal(err.code, 'worker_error');
        assert.match(err.message, /crashed mid-answer/);
        return true;
      },
    );
    assert.deepEqual(seen, ['Partial']);

    const raw = await fetch(`${h.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${ALL_KEY}`, 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'llama3.1:8b', messages: [{ role: 'user', content: 'x [fail-after]' }], stream: true }),
    });
    const events = (await readSse(raw)).filter((e) => e.data !== undefined);
    assert.ok(!events.some((e) => e.data === '[DONE]'));
    const last = JSON.parse(events[events.length - 1].data ?? '{}');
    assertOpenAISchema('ErrorResponse', last);
  });

  test("a non-stream answer's time to first token is when generating began, not when the whole answer came", async () => {
    const ttftSum = async () => Number(/switchyard_edge_time_to_first_token_seconds_sum\{model="llama3\.1:8b"\} ([0-9.e-]+)/.exec(await h.metrics())?.[1] ?? 0);
    const before = await ttftSum();
    const sent = Date.now();
    const data = await h.client().chat.completions.create({ model: 'llama3.1:8b', messages: [{ role: 'user', content: 'hello [whole:600]' }] });
    const tookS = (Date.now() - sent) / 1000;
    assert.equal(data.choices[0].message.content, 'Hello, all at once.');
    const ttft = (await ttftSum()) - before;
    assert.ok(tookS >= 0.6 && ttft >= 0 && ttft < tookS - 0.5, `the answer took ${tookS} s, of which 0.6 s generating; time to first token ${ttft} s`);
  });

  test('metrics: requests by route/model/status, latency, TTFT, queue wait, tokens; no key or request id in labels', async () => {
    const text = await h.metrics();
    assert.match(text, /switchyard_edge_requests_total\{route="chat\/completions",model="llama3\.1:8b",status="200"\} \d+/);
    assert.match(text, /switchyard_edge_requests_total\{route="chat\/completions",model="llama3\.1:8b",status="400"\} \d+/);
    assert.match(text, /switchyard_edge_request_duration_seconds_count\{route="chat\/completions",model="llama3\.1:8b"\} \d+/);
    assert.match(text, /switchyard_edge_time_to_first_token_seconds_count\{model="llama3\.1:8b"\} [1-9]/);
    assert.match(text, /switchyard_edge_queue_wait_seconds_count\{model="llama3\.1:8b"\} [1-9]/);
    assert.match(text, /switchyard_edge_tokens_total\{model="llama3\.1:8b",kind="completion"\} [1-9]/);
    assert.match(text, /switchyard_edge_inflight_streams 0/);
    assert.match(text, /switchyard_edge_rejections_total\{reason="bad_request"\} [1-9]/);
    assert.ok(!text.includes(ALL_KEY) && !/req_[0-9a-f]{24}/.test(text));
  });
});
