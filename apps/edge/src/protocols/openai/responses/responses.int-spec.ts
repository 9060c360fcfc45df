import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import OpenAI, { APIError } from 'openai';
import { assertOpenAISchema } from '@switchyard/testing';
import { ALL_KEY, startEdgeHarness, type EdgeHarness } from '../../../testing/edge-harness';

const PNG_1PX = 'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==';
const NARROW_KEY = 'sk-test-responses-llama-only-0123456789';
const WEATHER: OpenAI.Responses.FunctionTool = {
  type: 'function',
  name: 'get_weather',
  description: 'Weather of a city',
  parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] },
  strict: false,
};

type StreamEvent = OpenAI.Responses.ResponseStreamEvent;

/** Every event of a stream, each checked against OpenAI's schema, with gap-free growing sequence numbers. */
async function collect(stream: AsyncIterable<StreamEvent>): Promise<StreamEvent[]> {
  const events: StreamEvent[] = [];
  for await (const e of stream) {
    assertOpenAISchema('ResponseStreamEvent', e);
    events.push(e);
  }
  assert.deepEqual(
    events.map((e) => e.sequence_number),
    events.map((_, i) => i),
  );
  return events;
}

function lastJob(h: EdgeHarness) {
  const job = h.worker.received[h.worker.received.length - 1];
  assert.ok(job.work.kind === 'chat');
  return { ...job, work: job.work };
}

function expect400(param: string, code?: string) {
  return (err: unknown) => {
    assert.ok(err instanceof APIError, String(err));
    assert.equal(err.status, 400);
    assert.equal(err.param, param);
    assert.equal(err.type, 'invalid_request_error');
    if (code) assert.equal(err.code, code);
    assertOpenAISchema('ErrorResponse', { error: err.error });
    return true;
  };
}

describe('POST responses (official openai client, fake worker over real Redis)', () => {
  let h: EdgeHarness;
  before(async () => {
    h = await startEdgeHarness({
      keys: { [NARROW_KEY]: { keyId: 'key-narrow', userId: 'u-narrow', policy: { allModels: false, allowedModels: ['llama3.1:8b'] } } },
    });
  });
  after(async () => {
    await h.close();
  });

  for (const base of ['v1', 'api'] as const) {
    test(`non-stream under /${base}/: OpenAI's response object with output text and usage`, async () => {
      const { data, response } = await h
        .client(ALL_KEY, base)
        .responses.create({ model: 'llama3.1:8b', input: 'Say hello', store: true, metadata: { run: 'a' } })
        .withResponse();
      assertOpenAISchema('Response', data);
      assert.match(data.id, /^resp_/);
      assert.equal(data.object, 'response');
      assert.equal(data.status, 'completed');
      assert.equal(data.output_text, 'Hello from the fake worker.');
      assert.equal(data.output.length, 1);
      const msg = data.output[0];
      assert.ok(msg.type === 'message');
      assert.equal(msg.role, 'assistant');
      assert.equal(msg.status, 'completed');
      assert.equal(data.usage?.output_tokens, 3);
      assert.equal(data.usage?.total_tokens, (data.usage?.input_tokens ?? 0) + 3);
      assert.equal(data.usage?.input_tokens_details.cached_tokens, 0);
      assert.equal(data.usage?.output_tokens_details.reasoning_tokens, 0);
      assert.equal((data as unknown as { store: boolean }).store, false, 'nothing is stored');
      assert.deepEqual(data.metadata, { run: 'a' });
      assert.equal(data.incomplete_details, null);
      assert.match(response.headers.get('x-request-id') ?? '', /^req_/);
      const job = lastJob(h);
      assert.deepEqual(job.work.messages, [{ role: 'user', content: 'Say hello' }]);
      assert.deepEqual(job.work.options, { temperature: 1, top_p: 1 });
    });
  }

  test("stream: OpenAI's full event sequence, numbered from 0, the SSE event name matching each type", async () => {
    const stream = await h.client().responses.create({ model: 'llama3.1:8b', instructions: 'Be brief.', input: 'Say hello', stream: true });
    const events = await collect(stream);
    assert.deepEqual(
      events.map((e) => e.type),
      [
        'response.created',
        'response.in_progress',
        'response.output_item.added',
        'response.content_part.added',
        'response.output_text.delta',
        'response.output_text.delta',
        'response.output_text.delta',
        'response.output_text.done',
        'response.content_part.done',
        'response.output_item.done',
        'response.completed',
      ],
    );
    const created = events[0];
    assert.ok(created.type === 'response.created');
    assert.equal(created.response.status, 'in_progress');
    assert.equal(created.response.instructions, 'Be brief.');
    const text = events.flatMap((e) => (e.type === 'response.output_text.delta' ? [e.delta] : [])).join('');
    assert.equal(text, 'Hello from the fake worker.');
    const done = events[7];
    assert.ok(done.type === 'response.output_text.done');
    assert.equal(done.text, text);
    const completed = events[events.length - 1];
    assert.ok(completed.type === 'response.completed');
    assert.equal(completed.response.id, created.response.id);
    assert.equal(completed.response.status, 'completed');
    assert.equal(completed.response.usage?.output_tokens, 3);
    assertOpenAISchema('Response', completed.response);
    assert.deepEqual(lastJob(h).work.messages[0], { role: 'system', content: 'Be brief.' });

    const res = await fetch(`${h.url}/v1/responses`, {
      method: 'POST',
      headers: { authorization: `Bearer ${ALL_KEY}`, 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'llama3.1:8b', input: 'wait [delay:350]', stream: true }),
    });
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type') ?? '', /^text\/event-stream/);
    const raw = await res.text();
    const blocks = raw.split('\n\n').filter((b) => b.length > 0);
    assert.ok(blocks.filter((b) => b.startsWith(': keep-alive')).length >= 2, 'keep-alive comments while the job waits');
    for (const block of blocks.filter((b) => b.startsWith('event: '))) {
      const [eventLine, dataLine] = block.split('\n');
      assert.equal(eventLine.slice('event: '.length), JSON.parse(dataLine.slice('data: '.length)).type);
    }
  });

  test('a function tool: a function_call output item, stream and not, in Ollama shape for the worker', async () => {
    const c = h.client();
    const whole = await c.responses.create({ model: 'llama3.1:8b', input: 'Weather in Paris? [tool]', tools: [WEATHER] });
    assertOpenAISchema('Response', whole);
    assert.equal(whole.status, 'completed');
    assert.equal(whole.output.length, 1);
    const call = whole.output[0];
    assert.ok(call.type === 'function_call');
    assert.equal(call.name, 'get_weather');
    assert.deepEqual(JSON.parse(call.arguments), { city: 'Paris' });
    assert.match(call.call_id, /^call_/);
    assert.match(call.id ?? '', /^fc_/);
    assert.deepEqual(whole.tools, [WEATHER]);
    assert.deepEqual(lastJob(h).work.tools, [
      { type: 'function', function: { name: 'get_weather', description: WEATHER.description, parameters: WEATHER.parameters } },
    ]);

    const events = await collect(await c.responses.create({ model: 'llama3.1:8b', input: 'Weather in Paris? [tool]', tools: [WEATHER], stream: true }));
    assert.deepEqual(
      events.map((e) => e.type),
      [
        'response.created',
        'response.in_progress',
        'response.output_item.added',
        'response.function_call_arguments.delta',
        'response.function_call_arguments.done',
        'response.output_item.done',
        'response.completed',
      ],
    );
    const added = events[2];
    assert.ok(added.type === 'response.output_item.added' && added.item.type === 'function_call');
    assert.equal(added.item.arguments, '');
    const argsDone = events[4];
    assert.ok(argsDone.type === 'response.function_call_arguments.done');
    assert.equal(argsDone.name, 'get_weather');
    assert.deepEqual(JSON.parse(argsDone.arguments), { city: 'Paris' });
    const completed = events[6];
    assert.ok(completed.type === 'response.completed');
    assert.equal(completed.response.output[0].type, 'function_call');

    // The SDK's own stream helper assembles the same response.
    const final = await c.responses.stream({ model: 'llama3.1:8b', input: 'Weather in Paris? [tool]', tools: [WEATHER] }).finalResponse();
    assert.equal(final.output[0].type, 'function_call');

    // tool_choice "none" withholds the tools; a named choice keeps only that function.
    await c.responses.create({ model: 'llama3.1:8b', input: 'hi', tools: [WEATHER], tool_choice: 'none' });
    assert.equal(lastJob(h).work.tools, undefined);
    const other = { ...WEATHER, name: 'get_time' };
    await c.responses.create({ model: 'llama3.1:8b', input: 'hi', tools: [WEATHER, other], tool_choice: { type: 'function', name: 'get_time' } });
    assert.deepEqual(
      lastJob(h).work.tools?.map((t) => (t.function as { name: string }).name),
      ['get_time'],
    );
  });

  test('a function_call_output round trip: the earlier output replayed as input, the result a tool message', async () => {
    const c = h.client();
    const first = await c.responses.create({ model: 'llama3.1:8b', input: 'Weather in Paris? [tool]', tools: [WEATHER] });
    const call = first.output[0];
    assert.ok(call.type === 'function_call');
    const second = await c.responses.create({
      model: 'llama3.1:8b',
      tools: [WEATHER],
      input: [
        { role: 'user', content: 'What is the weather in Paris?' },
        call,
        { type: 'function_call_output', call_id: call.call_id, output: '{"temperature_c":21}' },
      ],
    });
    assertOpenAISchema('Response', second);
    assert.equal(second.output_text, 'Hello from the fake worker.');
    assert.deepEqual(lastJob(h).work.messages, [
      { role: 'user', content: 'What is the weather in Paris?' },
      { role: 'assistant', content: '', tool_calls: [{ function: { name: 'get_weather', arguments: { city: 'Paris' } } }] },
      { role: 'tool', content: '{"temperature_c":21}', tool_name: 'get_weather' },
    ]);
  });

  test('translation: message items, parts, images, replayed assistant text, sampling options', async () => {
    await h.client().responses.create({
      model: 'llava:13b',
      instructions: 'You see images.',
      input: [
        { role: 'developer', content: 'Answer in French.' },
        {
          type: 'message',
          role: 'user',
          content: [
            { type: 'input_text', text: 'What is this? [echo]' },
            { type: 'input_image', image_url: `data:image/png;base64,${PNG_1PX}`, detail: 'auto' },
          ],
        },
        { type: 'message', role: 'assistant', id: 'msg_1', status: 'completed', content: [{ type: 'output_text', text: 'A pixel.', annotations: [] }] },
        { role: 'user', content: 'Sure?' },
      ],
      temperature: 0.2,
      top_p: 0.9,
      max_output_tokens: 64,
      text: { format: { type: 'json_object' } },
    });
    const job = lastJob(h);
    assert.equal(job.model, 'llava:13b');
    assert.equal(job.numCtx, 8192);
    assert.deepEqual(job.work.messages, [
      { role: 'system', content: 'You see images.' },
      { role: 'system', content: 'Answer in French.' },
      { role: 'user', content: 'What is this? [echo]', images: [PNG_1PX] },
      { role: 'assistant', content: 'A pixel.' },
      { role: 'user', content: 'Sure?' },
    ]);
    assert.deepEqual(job.work.options, { temperature: 0.2, top_p: 0.9, num_predict: 64 });
    assert.equal(job.work.format, 'json');
  });

  test('text.format json_schema: the schema is the format Ollama gets, and the response echoes it', async () => {
    const schema = { type: 'object', properties: { answer: { type: 'string' } }, required: ['answer'], additionalProperties: false };
    const format = { type: 'json_schema' as const, name: 'answer', schema, strict: true };
    const res = await h.client().responses.create({ model: 'llama3.1:8b', input: 'json please', text: { format } });
    assertOpenAISchema('Response', res);
    assert.deepEqual(res.text?.format, format);
    assert.deepEqual(lastJob(h).work.format, schema);
  });

  test('max_output_tokens reached: status incomplete, reason max_output_tokens, stream ends with response.incomplete', async () => {
    const c = h.client();
    const res = await c.responses.create({ model: 'llama3.1:8b', input: 'a long story [length]', max_output_tokens: 16 });
    assertOpenAISchema('Response', res);
    assert.equal(res.status, 'incomplete');
    assert.deepEqual(res.incomplete_details, { reason: 'max_output_tokens' });
    assert.equal(res.max_output_tokens, 16);
    assert.equal(res.completed_at, null);
    assert.equal(res.output[0].type === 'message' && res.output[0].status, 'incomplete');
    assert.equal(lastJob(h).work.options.num_predict, 16);

    const events = await collect(await c.responses.create({ model: 'llama3.1:8b', input: 'a long story [length]', max_output_tokens: 16, stream: true }));
    const last = events[events.length - 1];
    assert.ok(last.type === 'response.incomplete');
    assert.equal(last.response.status, 'incomplete');
    assert.deepEqual(last.response.incomplete_details, { reason: 'max_output_tokens' });
    assert.ok(!events.some((e) => e.type === 'response.completed'));
  });

  test('previous_response_id and other bad input: a 400 in OpenAI shape naming the parameter', async () => {
    const c = h.client();
    const cases: Array<[Record<string, unknown>, string, string?]> = [
      [{ input: 'hi', previous_response_id: 'resp_123' }, 'previous_response_id', 'unsupported_parameter'],
      [{ input: 'hi', conversation: 'conv_1' }, 'conversation', 'unsupported_parameter'],
      [{ input: [{ type: 'item_reference', id: 'msg_1' }] }, 'input[0]', 'unsupported_value'],
      [{}, 'input', 'missing_required_parameter'],
      [{ input: [] }, 'input'],
      [{ input: 'hi', tools: [{ type: 'web_search' }] }, 'tools[0].type'],
      [{ input: 'hi', tools: [WEATHER], tool_choice: { type: 'function', name: 'nope' } }, 'tool_choice'],
      [{ input: [{ role: 'user', content: [{ type: 'input_image', image_url: 'https://example.com/cat.png', detail: 'auto' }] }] }, 'input[0].content[0].image_url', 'invalid_image_url'],
      [{ input: [{ role: 'user', content: [{ type: 'input_file', file_id: 'file_1' }] }] }, 'input[0].content[0].type'],
      [{ input: [{ role: 'user', content: 'hi' }, { type: 'function_call', call_id: 'c', name: 'f', arguments: 'not json' }] }, 'input[1].arguments'],
      [{ input: 'hi', temperature: 3 }, 'temperature'],
      [{ input: 'hi', text: { format: { type: 'json_schema', name: 'x' } } }, 'text.format.schema', 'missing_required_parameter'],
    ];
    for (const [body, param, code] of cases) {
      await assert.rejects(c.responses.create({ model: 'llama3.1:8b', ...body } as never), expect400(param, code));
    }
    // Beyond the model's output limit is clamped, as on every route (an answer, not a 400).
    assert.ok((await c.responses.create({ model: 'tiny:1b', input: 'hi', max_output_tokens: 4096 })).output.length > 0);
    await assert.rejects(c.responses.create({ model: 'nomic-embed-text', input: 'hi' }), expect400('model', 'model_not_supported'));
  });

  test('a key limited to some models cannot use another (403), and may use its own', async () => {
    const c = h.client(NARROW_KEY);
    await assert.rejects(c.responses.create({ model: 'codellama:13b', input: 'hi' }), (err: unknown) => {
      assert.ok(err instanceof APIError);
      assert.equal(err.status, 403);
      assert.equal(err.code, 'model_not_allowed');
      assert.equal(err.param, 'model');
      return true;
    });
    await assert.rejects(c.responses.create({ model: 'codellama:13b', input: 'hi', stream: true }), (err: unknown) => err instanceof APIError && err.status === 403);
    assert.equal((await c.responses.create({ model: 'llama3.1:8b', input: 'hi' })).status, 'completed');
  });

  test('a worker failure: before the stream, its status; after text, an in-band error event and no response.completed', async () => {
    const c = h.client();
    await assert.rejects(c.responses.create({ model: 'llama3.1:8b', input: 'x [fail-before]' }), (err: unknown) => {
      assert.ok(err instanceof APIError);
      assert.equal(err.status, 502);
      assert.equal(err.code, 'worker_error');
      return true;
    });
    const events = await collect(await c.responses.create({ model: 'llama3.1:8b', input: 'x [fail-after]', stream: true }));
    assert.ok(!events.some((e) => e.type === 'response.completed'));
    assert.ok(events.some((e) => e.type === 'response.output_text.delta' && e.delta === 'Partial'));
    const last = events[events.length - 1];
    assert.ok(last.type === 'error');
    assert.equal(last.code, 'worker_error');
    assert.match(last.message, /crashed mid-answer/);
    assert.equal(last.param, null);
  });

  test('metrics: the route is labelled "responses"', async () => {
    const text = await h.metrics();
    assert.match(text, /switchyard_edge_requests_total\{route="responses",model="llama3\.1:8b",status="200"\} [1-9]/);
    assert.match(text, /switchyard_edge_requests_total\{route="responses",model="llama3\.1:8b",status="400"\} [1-9]/);
  });

  test('raw: a body that is not JSON is a 400 invalid_json in OpenAI shape', async () => {
    const res = await fetch(`${h.url}/v1/responses`, {
      method: 'POST',
      headers: { authorization: `Bearer ${ALL_KEY}`, 'content-type': 'application/json' },
      body: '{not json',
    });
    assert.equal(res.status, 400);
    const body = await res.json();
    assertOpenAISchema('ErrorResponse', body);
    assert.equal((body as { error: { code: string } }).error.code, 'invalid_json');
  });
});
