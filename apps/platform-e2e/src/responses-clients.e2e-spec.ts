import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import OpenAI from 'openai';
import { createOpenAI } from '@ai-sdk/openai';
import { generateText, jsonSchema, stepCountIs, streamText, tool } from 'ai';
import { assertOpenAISchema } from '@switchyard/testing';
import { startPlatform, type Platform } from './platform';

/**
 * OpenAI's Responses API on the whole platform (launcher, simulated GPUs), driven by the clients
 * that speak it: the official `openai` client's `responses.create`, and the Vercel AI SDK's
 * default OpenAI provider, whose `openai(model)` calls `/responses` (here under the portal's `/api/`).
 */
let p: Platform;
let client: OpenAI;

const MODEL = 'llama3.1:8b';
const WEATHER: OpenAI.Responses.FunctionTool = {
  type: 'function',
  name: 'get_weather',
  description: 'The weather of a city',
  parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] },
  strict: false,
};

before(async () => {
  p = await startPlatform();
  client = new OpenAI({ baseURL: `${p.baseUrl}/v1`, apiKey: p.demoKey, maxRetries: 0 });
});

after(async () => {
  await p?.stop();
});

describe('the openai client: responses.create', () => {
  test('non-stream: a completed response with text and usage', async () => {
    const res = await client.responses.create({ model: MODEL, instructions: 'Be brief.', input: 'Why is the sky blue?', max_output_tokens: 48 });
    assertOpenAISchema('Response', res);
    assert.ok(res.status === 'completed' || res.status === 'incomplete', res.status);
    assert.ok(res.output_text.length > 0);
    assert.ok((res.usage?.input_tokens ?? 0) > 0 && (res.usage?.output_tokens ?? 0) > 0);
    assert.equal(res.usage?.total_tokens, (res.usage?.input_tokens ?? 0) + (res.usage?.output_tokens ?? 0));
  });

  test('stream: schema-valid events in sequence, the deltas adding up to the final text', async () => {
    const stream = await client.responses.create({ model: MODEL, input: 'Tell me about GPUs.', max_output_tokens: 32, stream: true });
    const types: string[] = [];
    let deltas = '';
    let final: OpenAI.Responses.Response | undefined;
    for await (const e of stream) {
      assertOpenAISchema('ResponseStreamEvent', e);
      assert.equal(e.sequence_number, types.length);
      types.push(e.type);
      if (e.type === 'response.output_text.delta') deltas += e.delta;
      if (e.type === 'response.completed' || e.type === 'response.incomplete') final = e.response;
    }
    assert.deepEqual(types.slice(0, 4), ['response.created', 'response.in_progress', 'response.output_item.added', 'response.content_part.added']);
    // The simulator writes prose until num_predict: the answer hit max_output_tokens.
    assert.equal(types[types.length - 1], 'response.incomplete');
    assert.equal(final?.status, 'incomplete');
    assert.deepEqual(final?.incomplete_details, { reason: 'max_output_tokens' });
    assert.equal(final?.usage?.output_tokens, 32);
    const message = final?.output[0];
    assert.ok(message?.type === 'message' && message.content[0].type === 'output_text');
    assert.equal(message.content[0].text, deltas);
    assert.ok(deltas.length > 0);
  });

  test('a function tool, streamed and not, and its function_call_output answered in text', async () => {
    const input = 'What is the weather in Paris?';
    const first = await client.responses.create({ model: MODEL, input, tools: [WEATHER] });
    assertOpenAISchema('Response', first);
    const call = first.output.find((o) => o.type === 'function_call');
    assert.ok(call && call.type === 'function_call', JSON.stringify(first.output));
    assert.equal(call.name, 'get_weather');
    assert.equal(typeof JSON.parse(call.arguments), 'object');

    const streamed = await client.responses.stream({ model: MODEL, input, tools: [WEATHER] }).finalResponse();
    assert.ok(streamed.output.some((o) => o.type === 'function_call' && o.name === 'get_weather'));

    const second = await client.responses.create({
      model: MODEL,
      tools: [WEATHER],
      input: [{ role: 'user', content: input }, call, { type: 'function_call_output', call_id: call.call_id, output: '{"temperature_c":21}' }],
      max_output_tokens: 32,
    });
    assertOpenAISchema('Response', second);
    assert.ok(!second.output.some((o) => o.type === 'function_call'));
    assert.ok(second.output_text.length > 0);
  });
});

describe("the Vercel AI SDK's default OpenAI provider (Responses API, portal base URL /api)", () => {
  const provider = () => createOpenAI({ baseURL: `${p.baseUrl}/api`, apiKey: p.demoKey });

  test('generateText', async () => {
    const r = await generateText({ model: provider()(MODEL), prompt: 'Why is the sky blue?', maxOutputTokens: 32 });
    assert.ok(r.text.length > 0);
    assert.equal(r.finishReason, 'length');
    assert.equal(r.usage.outputTokens, 32);
  });

  test('streamText', async () => {
    const errors: unknown[] = [];
    const r = streamText({ model: provider()(MODEL), prompt: 'Tell me about GPUs.', maxOutputTokens: 24, onError: ({ error }) => void errors.push(error) });
    let text = '';
    for await (const delta of r.textStream) text += delta;
    assert.deepEqual(errors, []);
    assert.ok(text.length > 0);
    assert.equal(await r.finishReason, 'length');
    assert.equal((await r.usage).outputTokens, 24);
  });

  test('a tool loop: the call is executed and its result answered in text', async () => {
    const calls: string[] = [];
    const r = await generateText({
      model: provider()(MODEL),
      prompt: 'What is the weather in Paris?',
      maxOutputTokens: 32,
      stopWhen: stepCountIs(3),
      tools: {
        get_weather: tool({
          description: 'The weather of a city',
          inputSchema: jsonSchema<{ city: string }>({ type: 'object', properties: { city: { type: 'string' } }, required: ['city'] }),
          execute: async ({ city }) => {
            calls.push(city);
            return { city, temperature_c: 21 };
          },
        }),
      },
    });
    assert.equal(calls.length, 1);
    assert.equal(r.steps.length, 2);
    assert.equal(r.steps[0].finishReason, 'tool-calls');
    assert.ok(r.text.length > 0);
  });
});
