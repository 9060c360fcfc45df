import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import Anthropic, { AuthenticationError } from '@anthropic-ai/sdk';
import { startPlatform, type Platform } from './platform';

/**
 * The whole platform, started as `npm start` starts it (simulated GPUs, PGlite, the launcher),
 * driven by the official `@anthropic-ai/sdk` pointed at the host, as Claude-style tools use it.
 */
let p: Platform;
let client: Anthropic;

before(async () => {
  p = await startPlatform();
  client = new Anthropic({ baseURL: p.baseUrl, apiKey: p.demoKey, maxRetries: 0, timeout: 60_000 });
});

after(async () => {
  await p?.stop();
});

const MODEL = 'llama3.1:8b';
const TOOLS: Anthropic.Tool[] = [
  {
    name: 'get_weather',
    description: 'The current weather of a city',
    input_schema: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] },
  },
];

describe('Anthropic Messages API through the official SDK', () => {
  test('messages.create: a text answer with its stop reason and the worker-counted usage', async () => {
    const msg = await client.messages.create({
      model: MODEL,
      max_tokens: 40,
      system: 'Be brief.',
      messages: [{ role: 'user', content: 'Why is the sky blue?' }],
    });
    assert.match(msg.id, /^msg_/);
    assert.equal(msg.model, MODEL);
    assert.equal(msg.content[0]?.type, 'text');
    assert.ok(msg.content[0].type === 'text' && msg.content[0].text.length > 0);
    assert.ok(msg.stop_reason === 'end_turn' || msg.stop_reason === 'max_tokens', `stop_reason ${msg.stop_reason}`);
    assert.ok(msg.usage.input_tokens > 0);
    assert.ok(msg.usage.output_tokens > 0 && msg.usage.output_tokens <= 40);
  });

  test('messages.stream: text events add up to finalMessage()', async () => {
    const stream = client.messages.stream({ model: MODEL, max_tokens: 40, messages: [{ role: 'user', content: 'Tell me about GPUs.' }] });
    let text = '';
    stream.on('text', (t) => (text += t));
    const final = await stream.finalMessage();
    assert.ok(text.length > 0);
    assert.deepEqual(final.content, [{ type: 'text', text }]);
    assert.ok(final.stop_reason === 'end_turn' || final.stop_reason === 'max_tokens');
    assert.ok(final.usage.output_tokens > 0);
  });

  test('tool use round trip: tool_use (streamed and not), then the tool_result is answered in text', async () => {
    const ask: Anthropic.MessageParam = { role: 'user', content: 'What is the weather in Paris?' };
    const first = await client.messages.create({ model: MODEL, max_tokens: 200, tools: TOOLS, messages: [ask] });
    assert.equal(first.stop_reason, 'tool_use');
    const use = first.content.find((b): b is Anthropic.ToolUseBlock => b.type === 'tool_use');
    assert.ok(use, 'a tool_use block');
    assert.match(use.id, /^toolu_/);
    assert.equal(use.name, 'get_weather');
    assert.equal(typeof (use.input as { city?: unknown }).city, 'string');

    const streamed = await client.messages.stream({ model: MODEL, max_tokens: 200, tools: TOOLS, messages: [ask] }).finalMessage();
    assert.equal(streamed.stop_reason, 'tool_use');
    assert.ok(streamed.content.some((b) => b.type === 'tool_use' && b.name === 'get_weather'));

    const answer = await client.messages.create({
      model: MODEL,
      max_tokens: 40,
      tools: TOOLS,
      messages: [
        ask,
        { role: 'assistant', content: first.content },
        { role: 'user', content: [{ type: 'tool_result', tool_use_id: use.id, content: '18°C and sunny' }] },
      ],
    });
    assert.ok(answer.stop_reason === 'end_turn' || answer.stop_reason === 'max_tokens');
    assert.ok(answer.content.some((b) => b.type === 'text' && b.text.length > 0));
  });

  test('countTokens, and a bad key is an AuthenticationError', async () => {
    const count = await client.messages.countTokens({ model: MODEL, messages: [{ role: 'user', content: 'Hello there' }] });
    assert.ok(count.input_tokens > 0);
    const bad = new Anthropic({ baseURL: p.baseUrl, apiKey: 'sk-not-a-key', maxRetries: 0 });
    await assert.rejects(bad.messages.create({ model: MODEL, max_tokens: 8, messages: [{ role: 'user', content: 'hi' }] }), AuthenticationError);
  });
});
