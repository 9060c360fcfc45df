import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import Anthropic, { APIError, AuthenticationError, BadRequestError, NotFoundError, PermissionDeniedError } from '@anthropic-ai/sdk';
import {
  anthropicErrorResponseSchema,
  anthropicMessageSchema,
  anthropicStreamEventSchema,
  type AnthropicErrorType,
  type AnthropicMessage,
  type AnthropicStreamEvent,
  type AnthropicTokenCount,
} from '@switchyard/contracts';
import { ALL_KEY, startEdgeHarness, type EdgeHarness } from '../../testing/edge-harness';

/**
 * What a body must hold to be read as the SDK's type `T`: its fields typed `| null` may be left
 * out (the SDK and Anthropic's own API omit them when they do not apply), every other one must be
 * there with its type. Our contracts must satisfy it: checked by the compiler below.
 */
type Readable<T> = T extends ReadonlyArray<infer U>
  ? Array<Readable<U>>
  : T extends object
    ? { [K in keyof T as null extends T[K] ? never : K]: Readable<T[K]> } & { [K in keyof T as null extends T[K] ? K : never]?: T[K] }
    : T;
type Holds<A, B> = [A] extends [B] ? true : false;
const contractsFitTheSdk: [
  Holds<AnthropicMessage, Readable<Anthropic.Message>>,
  Holds<Exclude<AnthropicStreamEvent, { type: 'ping' | 'error' }>, Readable<Anthropic.RawMessageStreamEvent>>,
  Holds<AnthropicTokenCount, Anthropic.MessageTokensCount>,
  Holds<Exclude<AnthropicErrorType, 'request_too_large'>, Anthropic.ErrorType>,
] = [true, true, true, true];

const PNG_1PX = 'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==';
const NARROW_KEY = 'sk-test-anthropic-narrow-0123456789';
const TOOLS: Anthropic.Tool[] = [
  { name: 'get_weather', description: 'Weather of a city', input_schema: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] } },
];

/** An SSE body as its events: the `event:` name and the parsed `data:`. */
async function sseEvents(res: Response): Promise<Array<{ event: string; data: unknown }>> {
  const out: Array<{ event: string; data: unknown }> = [];
  for (const block of (await res.text()).split('\n\n')) {
    const event = /^event: (.+)$/m.exec(block)?.[1];
    const data = /^data: (.+)$/m.exec(block)?.[1];
    if (event && data) out.push({ event, data: JSON.parse(data) });
  }
  return out;
}

describe('POST /v1/messages (official @anthropic-ai/sdk, fake worker over real Redis)', () => {
  let h: EdgeHarness;
  let client: Anthropic;
  const post = (path: string, body: unknown, headers: Record<string, string> = { 'x-api-key': ALL_KEY }) =>
    fetch(`${h.url}${path}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'anthropic-version': '2023-06-01', ...headers },
      body: typeof body === 'string' ? body : JSON.stringify(body),
    });
  const lastJob = () => {
    const job = h.worker.received[h.worker.received.length - 1];
    assert.ok(job.work.kind === 'chat');
    return { job, work: job.work };
  };

  before(async () => {
    h = await startEdgeHarness({
      env: { EDGE_MAX_BODY_BYTES: String(64 * 1024) },
      keys: { [NARROW_KEY]: { keyId: 'key-narrow', userId: 'u-narrow', policy: { allModels: false, allowedModels: ['llama3.1:8b'] } } },
    });
    client = new Anthropic({ baseURL: h.url, apiKey: ALL_KEY, maxRetries: 0, timeout: 20_000 });
  });
  after(async () => {
    await h.close();
  });

  test("the SDK pointed at the portal's base URL (…/api) reaches the same route, errors in Anthropic's shape", async () => {
    const portal = new Anthropic({ baseURL: `${h.url}/api`, apiKey: ALL_KEY, maxRetries: 0, timeout: 20_000 });
    const msg = await portal.messages.create({ model: 'llama3.1:8b', max_tokens: 16, messages: [{ role: 'user', content: 'hi from the portal' }] });
    assert.equal(msg.type, 'message');
    await assert.rejects(portal.messages.create({ model: 'no-such:1b', max_tokens: 16, messages: [{ role: 'user', content: 'hi' }] }), NotFoundError);
  });

  test('the contracts fit the SDK types', () => {
    assert.deepEqual(contractsFitTheSdk, [true, true, true, true]);
  });

  test('messages.create: a message with one text block, end_turn and the worker\'s usage', async () => {
    const { data, response } = await client.messages
      .create({ model: 'llama3.1:8b', max_tokens: 64, messages: [{ role: 'user', content: 'Say hello' }], metadata: { user_id: 'u-42' } })
      .withResponse();
    anthropicMessageSchema.parse(data);
    assert.match(data.id, /^msg_/);
    assert.equal(data.type, 'message');
    assert.equal(data.role, 'assistant');
    assert.equal(data.model, 'llama3.1:8b');
    assert.deepEqual(data.content, [{ type: 'text', text: 'Hello from the fake worker.' }]);
    assert.equal(data.stop_reason, 'end_turn');
    assert.equal(data.stop_sequence, null);
    assert.equal(data.usage.output_tokens, 3);
    assert.equal(data.usage.input_tokens, lastJob().job.estimatedPromptTokens);
    assert.match(response.headers.get('x-request-id') ?? '', /^req_/);
  });

  test('translation: system blocks, images, options, stop_sequences, max_tokens as num_predict; /api/messages too', async () => {
    const res = await post('/api/messages', {
      model: 'llava:13b',
      max_tokens: 32,
      system: [{ type: 'text', text: 'You see images.', cache_control: { type: 'ephemeral' } }],
      messages: [
        { role: 'user', content: [{ type: 'text', text: 'What is this?' }, { type: 'image', source: { type: 'base64', media_type: 'image/png', data: PNG_1PX } }] },
        { role: 'assistant', content: 'A pixel.' },
        { role: 'user', content: 'Sure? [echo]' },
      ],
      stop_sequences: ['END', '\n\nHuman:'],
      temperature: 0.2,
      top_p: 0.9,
      top_k: 40,
    });
    assert.equal(res.status, 200);
    anthropicMessageSchema.parse(await res.json());
    const { job, work } = lastJob();
    assert.equal(job.model, 'llava:13b');
    assert.deepEqual(work.options, { num_predict: 32, temperature: 0.2, top_p: 0.9, top_k: 40, stop: ['END', '\n\nHuman:'] });
    assert.deepEqual(work.messages, [
      { role: 'system', content: 'You see images.' },
      { role: 'user', content: 'What is this?', images: [PNG_1PX] },
      { role: 'assistant', content: 'A pixel.' },
      { role: 'user', content: 'Sure? [echo]' },
    ]);
    assert.equal(work.tools, undefined);
  });

  test('messages.stream: text events, finalMessage() with the stop reason and usage; max_tokens reached', async () => {
    const stream = client.messages.stream({ model: 'llama3.1:8b', max_tokens: 64, messages: [{ role: 'user', content: 'Say hello [length]' }] });
    const texts: string[] = [];
    const events: Anthropic.MessageStreamEvent[] = [];
    stream.on('text', (t) => texts.push(t));
    stream.on('streamEvent', (e) => events.push(e));
    const final = await stream.finalMessage();
    assert.deepEqual(texts, ['Hello', ' from', ' the fake worker.']);
    for (const e of events) anthropicStreamEventSchema.parse(e);
    anthropicMessageSchema.parse(final);
    assert.deepEqual(final.content, [{ type: 'text', text: 'Hello from the fake worker.' }]);
    assert.equal(final.stop_reason, 'max_tokens');
    assert.equal(final.usage.output_tokens, 3);
    assert.match(final.id, /^msg_/);
  });

  test('raw SSE: event names in order, ping while the job waits, one id, message_stop last', async () => {
    const res = await post('/v1/messages?beta=true', {
      model: 'llama3.1:8b',
      max_tokens: 64,
      stream: true,
      messages: [{ role: 'user', content: 'wait [delay:350]' }],
    }, { 'x-api-key': ALL_KEY, 'anthropic-beta': 'prompt-caching-2024-07-31' });
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type') ?? '', /^text\/event-stream/);
    assert.equal(res.headers.get('cache-control'), 'no-cache');
    const events = await sseEvents(res);
    for (const e of events) assert.equal((anthropicStreamEventSchema.parse(e.data) as { type: string }).type, e.event);
    const names = events.map((e) => e.event).filter((n) => n !== 'ping');
    assert.deepEqual(names, [
      'message_start',
      'content_block_start',
      'content_block_delta',
      'content_block_delta',
      'content_block_delta',
      'content_block_stop',
      'message_delta',
      'message_stop',
    ]);
    assert.equal(events[0].event, 'message_start');
    const pings = events.slice(1, events.findIndex((e) => e.event === 'content_block_start'));
    assert.ok(pings.length >= 2 && pings.every((e) => e.event === 'ping'), 'pings while the job waits');
    const delta = events.find((e) => e.event === 'message_delta')?.data as Anthropic.RawMessageDeltaEvent;
    assert.equal(delta.delta.stop_reason, 'end_turn');
    assert.equal(delta.usage.output_tokens, 3);
  });

  test('tool use round trip: a tool_use block (stream and not), then the tool_result goes back as a tool message', async () => {
    const ask: Anthropic.MessageParam = { role: 'user', content: "What's the weather in Paris? [tool]" };
    const first = await client.messages.create({ model: 'llama3.1:8b', max_tokens: 64, tools: TOOLS, messages: [ask] });
    anthropicMessageSchema.parse(first);
    assert.equal(first.stop_reason, 'tool_use');
    const use = first.content.find((b): b is Anthropic.ToolUseBlock => b.type === 'tool_use');
    assert.ok(use);
    assert.match(use.id, /^toolu_/);
    assert.equal(use.name, 'get_weather');
    assert.deepEqual(use.input, { city: 'Paris' });
    assert.deepEqual(lastJob().work.tools, [
      { type: 'function', function: { name: 'get_weather', description: 'Weather of a city', parameters: TOOLS[0].input_schema } },
    ]);

    const stream = client.messages.stream({ model: 'llama3.1:8b', max_tokens: 64, tools: TOOLS, tool_choice: { type: 'any' }, messages: [ask] });
    const partial: string[] = [];
    stream.on('inputJson', (json) => partial.push(json));
    const streamed = await stream.finalMessage();
    assert.equal(streamed.stop_reason, 'tool_use');
    const streamedUse = streamed.content.find((b) => b.type === 'tool_use');
    assert.deepEqual(streamedUse?.type === 'tool_use' && streamedUse.input, { city: 'Paris' });
    assert.deepEqual(partial, ['{"city":"Paris"}']);

    const answer = await client.messages.create({
      model: 'llama3.1:8b',
      max_tokens: 64,
      tools: TOOLS,
      // The fake worker scripts on a tag anywhere in the conversation: the question goes back without it.
      messages: [
        { role: 'user', content: "What's the weather in Paris?" },
        { role: 'assistant', content: first.content },
        { role: 'user', content: [{ type: 'tool_result', tool_use_id: use.id, content: [{ type: 'text', text: '18°C, sunny' }] }, { type: 'text', text: 'Thanks!' }] },
      ],
    });
    assert.equal(answer.stop_reason, 'end_turn');
    assert.deepEqual(answer.content, [{ type: 'text', text: 'Hello from the fake worker.' }]);
    assert.deepEqual(lastJob().work.messages.slice(1), [
      { role: 'assistant', content: '', tool_calls: [{ function: { name: 'get_weather', arguments: { city: 'Paris' } } }] },
      { role: 'tool', content: '18°C, sunny', tool_name: 'get_weather' },
      { role: 'user', content: 'Thanks!' },
    ]);
  });

  test('tool_choice: none withholds the tools, tool passes only the named one; is_error marks the result', async () => {
    const two = [...TOOLS, { name: 'get_time', input_schema: { type: 'object' as const } }];
    await client.messages.create({ model: 'llama3.1:8b', max_tokens: 8, tools: two, tool_choice: { type: 'none' }, messages: [{ role: 'user', content: 'hi' }] });
    assert.equal(lastJob().work.tools, undefined);
    await client.messages.create({
      model: 'llama3.1:8b',
      max_tokens: 8,
      tools: two,
      tool_choice: { type: 'tool', name: 'get_time' },
      messages: [
        { role: 'user', content: 'hi' },
        { role: 'assistant', content: [{ type: 'tool_use', id: 'toolu_1', name: 'get_time', input: {} }] },
        { role: 'user', content: [{ type: 'tool_result', tool_use_id: 'toolu_1', content: 'clock broken', is_error: true }] },
      ],
    });
    const { work } = lastJob();
    assert.deepEqual(work.tools?.map((t) => (t as { function: { name: string } }).function.name), ['get_time']);
    assert.deepEqual(work.messages[2], { role: 'tool', content: 'Error: clock broken', tool_name: 'get_time' });
  });

  test('countTokens: the edge estimate of the prompt, no job queued', async () => {
    const before = h.worker.received.length;
    const short = await client.messages.countTokens({ model: 'llama3.1:8b', messages: [{ role: 'user', content: 'hi' }] });
    const long = await client.messages.countTokens({
      model: 'llama3.1:8b',
      system: 'Be brief.',
      tools: TOOLS,
      messages: [{ role: 'user', content: 'x'.repeat(300) }],
    });
    assert.ok(short.input_tokens > 0);
    assert.ok(long.input_tokens >= short.input_tokens + 100);
    assert.deepEqual(Object.keys(long), ['input_tokens']);
    assert.equal(h.worker.received.length, before);
  });

  test("SDK error classes: 401, 404 unknown model, 403 outside the key's allow-list (both routes), 400 bad bodies", async () => {
    const expectError = async (p: Promise<unknown>, cls: new (...args: never[]) => APIError, status: number, type: AnthropicErrorType) =>
      assert.rejects(p, (err: unknown) => {
        assert.ok(err instanceof cls, String(err));
        assert.equal(err.status, status);
        assert.equal(err.type, type);
        anthropicErrorResponseSchema.parse(err.error);
        return true;
      });
    const hello = { max_tokens: 16, messages: [{ role: 'user' as const, content: 'hi' }] };
    const badKey = new Anthropic({ baseURL: h.url, apiKey: 'sk-nope', maxRetries: 0 });
    await expectError(badKey.messages.create({ model: 'llama3.1:8b', ...hello }), AuthenticationError, 401, 'authentication_error');
    await expectError(badKey.messages.countTokens({ model: 'llama3.1:8b', messages: hello.messages }), AuthenticationError, 401, 'authentication_error');
    await expectError(client.messages.create({ model: 'no-such:1b', ...hello }), NotFoundError, 404, 'not_found_error');
    await expectError(client.messages.countTokens({ model: 'no-such:1b', messages: hello.messages }), NotFoundError, 404, 'not_found_error');

    const narrow = new Anthropic({ baseURL: h.url, apiKey: NARROW_KEY, maxRetries: 0 });
    const ok = await narrow.messages.create({ model: 'llama3.1:8b', ...hello });
    assert.equal(ok.stop_reason, 'end_turn');
    await expectError(narrow.messages.create({ model: 'codellama:13b', ...hello }), PermissionDeniedError, 403, 'permission_error');
    await expectError(narrow.messages.stream({ model: 'codellama:13b', ...hello }).finalMessage(), PermissionDeniedError, 403, 'permission_error');
    await expectError(narrow.messages.countTokens({ model: 'codellama:13b', messages: hello.messages }), PermissionDeniedError, 403, 'permission_error');

    const bad: Array<[Record<string, unknown>, RegExp]> = [
      [{ model: 'llama3.1:8b', messages: hello.messages }, /max_tokens/],
      [{ model: 'llama3.1:8b', max_tokens: 16, messages: [] }, /messages/],
      [{ model: 'llama3.1:8b', max_tokens: 16, messages: hello.messages, temperature: 1.5 }, /temperature/],
      [{ model: 'nomic-embed-text', max_tokens: 16, messages: hello.messages }, /embedding model/],
      [{ model: 'llama3.1:8b', max_tokens: 16, messages: [{ role: 'user', content: [{ type: 'document', source: {} }] }] }, /messages\[0\]\.content\[0\]\.type/],
      [{ model: 'llava:13b', max_tokens: 16, messages: [{ role: 'user', content: [{ type: 'image', source: { type: 'url', url: 'https://example.com/cat.png' } }] }] }, /base64 image sources/],
      [{ model: 'llava:13b', max_tokens: 16, messages: [{ role: 'user', content: [{ type: 'image', source: { type: 'base64', media_type: 'image/png', data: '%%%' } }] }] }, /base64/],
      [{ model: 'llama3.1:8b', max_tokens: 16, messages: hello.messages, tools: TOOLS, tool_choice: { type: 'tool', name: 'nope' } }, /tool_choice/],
      [{ model: 'llama3.1:8b', max_tokens: 16, messages: hello.messages, tools: [{ type: 'web_search_20250305', name: 'web_search' }] }, /tools\[0\]/],
    ];
    for (const [body, message] of bad) {
      await assert.rejects(client.messages.create(body as unknown as Anthropic.MessageCreateParamsNonStreaming), (err: unknown) => {
        assert.ok(err instanceof BadRequestError, `${JSON.stringify(body)}: ${String(err)}`);
        assert.equal(err.type, 'invalid_request_error');
        assert.match(err.message, message);
        assert.equal(err.headers?.get('x-should-retry'), 'false');
        anthropicErrorResponseSchema.parse(err.error);
        return true;
      });
    }
  });

  test("errors raised before the controller are in Anthropic's shape: bad JSON, no key, body too large, unknown route", async () => {
    const cases: Array<[Response, number, AnthropicErrorType]> = [
      [await post('/v1/messages', '{"model": ', { 'x-api-key': ALL_KEY }), 400, 'invalid_request_error'],
      [await post('//v1//messages?beta=true', '{"model": ', { 'x-api-key': ALL_KEY }), 400, 'invalid_request_error'],
      [await post('/v1/messages', { model: 'llama3.1:8b', max_tokens: 8, messages: [{ role: 'user', content: 'hi' }] }, {}), 401, 'authentication_error'],
      [await post('/v1/messages/count_tokens', { model: 'x', messages: [] }, { authorization: 'Bearer sk-nope' }), 401, 'authentication_error'],
      [await post('/v1/messages', { model: 'llama3.1:8b', max_tokens: 8, messages: [{ role: 'user', content: 'x'.repeat(100_000) }] }), 413, 'request_too_large'],
      [await post('/v1/messages/batches', { requests: [] }), 404, 'not_found_error'],
    ];
    for (const [res, status, type] of cases) {
      assert.equal(res.status, status);
      const body = anthropicErrorResponseSchema.parse(await res.json());
      assert.equal(body.error.type, type);
      assert.match(res.headers.get('x-request-id') ?? '', /^req_/);
    }
    // OpenAI's routes keep OpenAI's shape.
    const openai = await post('/v1/chat/completions', '{"model": ');
    assert.equal(((await openai.json()) as { error: { type: string } }).error.type, 'invalid_request_error');
  });

  test('worker failures: before any text a 5xx APIError in Anthropic shape; mid-stream an event: error and no message_stop', async () => {
    await assert.rejects(client.messages.create({ model: 'llama3.1:8b', max_tokens: 16, messages: [{ role: 'user', content: 'x [fail-before]' }] }), (err: unknown) => {
      assert.ok(err instanceof APIError);
      assert.equal(err.status, 502);
      assert.equal(err.type, 'api_error');
      assert.match(err.message, /crashed/);
      return true;
    });

    const texts: string[] = [];
    const stream = client.messages.stream({ model: 'llama3.1:8b', max_tokens: 16, messages: [{ role: 'user', content: 'x [fail-after]' }] });
    stream.on('text', (t) => texts.push(t));
    await assert.rejects(stream.finalMessage(), (err: unknown) => {
      assert.ok(err instanceof APIError);
      assert.equal(err.type, 'api_error');
      assert.match(err.message, /crashed mid-answer/);
      return true;
    });
    assert.deepEqual(texts, ['Partial']);

    const res = await post('/v1/messages', { model: 'llama3.1:8b', max_tokens: 16, stream: true, messages: [{ role: 'user', content: 'x [fail-after]' }] });
    const events = await sseEvents(res);
    assert.deepEqual(events.map((e) => e.event).filter((n) => n !== 'ping'), ['message_start', 'content_block_start', 'content_block_delta', 'error']);
    const error = anthropicErrorResponseSchema.parse(events[events.length - 1].data);
    assert.equal(error.error.type, 'api_error');
  });

  test('metrics: messages and count_tokens are routes of their own', async () => {
    const text = await h.metrics();
    assert.match(text, /switchyard_edge_requests_total\{route="messages",model="llama3.1:8b",status="200"\}/);
    assert.match(text, /switchyard_edge_requests_total\{route="messages\/count_tokens",model="llama3.1:8b",status="200"\}/);
    assert.match(text, /switchyard_edge_requests_total\{route="messages",model="codellama:13b",status="403"\}/);
  });
});
