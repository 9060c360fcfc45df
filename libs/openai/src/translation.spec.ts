import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chatCompletionRequestSchema, completionRequestSchema } from '@switchyard/contracts';
import { OpenAIError } from './openai-error';
import { chatToWork, completionToWork } from './translation';

const chat = (extra: Record<string, unknown>) =>
  chatCompletionRequestSchema.parse({ model: 'm', messages: [{ role: 'user', content: 'hi' }], ...extra });

test('defaults as Ollama\'s OpenAI layer: temperature and top_p 1.0, nothing else set', () => {
  const w = chatToWork(chat({}));
  assert.deepEqual(w, { kind: 'chat', messages: [{ role: 'user', content: 'hi' }], options: { temperature: 1, top_p: 1 } });
});

test('max_completion_tokens wins over max_tokens; a stop string becomes a list; nulls are ignored', () => {
  const w = chatToWork(chat({ max_tokens: 10, max_completion_tokens: 20, stop: 'x', seed: null, temperature: null }));
  assert.deepEqual(w.options, { temperature: 1, top_p: 1, stop: ['x'], num_predict: 20 });
});

test('response_format: text → none, json_object → "json", json_schema → its schema (or "json" without one)', () => {
  assert.equal(chatToWork(chat({ response_format: { type: 'text' } })).format, undefined);
  assert.equal(chatToWork(chat({ response_format: { type: 'json_object' } })).format, 'json');
  const schema = { type: 'object' };
  assert.deepEqual(chatToWork(chat({ response_format: { type: 'json_schema', json_schema: { name: 'n', schema } } })).format, schema);
  assert.equal(chatToWork(chat({ response_format: { type: 'json_schema', json_schema: { name: 'n' } } })).format, 'json');
});

test('tools pass through; tool_choice "none" withholds them', () => {
  const tools = [{ type: 'function', function: { name: 'f', parameters: { type: 'object' } } }];
  assert.deepEqual(chatToWork(chat({ tools })).tools, tools);
  assert.equal(chatToWork(chat({ tools, tool_choice: 'none' })).tools, undefined);
});

test('text parts are joined; images must be base64 data URLs', () => {
  const w = chatToWork(
    chat({
      messages: [
        { role: 'system', content: [{ type: 'text', text: 'a' }, { type: 'text', text: 'b' }] },
        { role: 'user', content: [{ type: 'text', text: 'see' }, { type: 'image_url', image_url: { url: 'data:image/jpeg;base64,QUJD' } }] },
      ],
    }),
  );
  assert.deepEqual(w.messages, [
    { role: 'system', content: 'a\nb' },
    { role: 'user', content: 'see', images: ['QUJD'] },
  ]);
  for (const url of ['http://x/y.png', 'data:image/png;base64,!!notbase64!!', 'data:text/plain;base64,QUJD']) {
    assert.throws(
      () => chatToWork(chat({ messages: [{ role: 'user', content: [{ type: 'image_url', image_url: { url } }] }] })),
      (e: unknown) => e instanceof OpenAIError && e.status === 400 && e.param === 'messages[0].content[0].image_url.url',
    );
  }
});

test('assistant tool_calls arguments become objects; tool results name their tool; arrays are refused', () => {
  const w = chatToWork(
    chat({
      messages: [
        { role: 'assistant', content: 'calling', tool_calls: [{ id: 'c1', type: 'function', function: { name: 'f', arguments: '{"a":[1]}' } }] },
        { role: 'tool', tool_call_id: 'c1', content: 'ok' },
        { role: 'tool', tool_call_id: 'unknown', content: 'orphan' },
      ],
    }),
  );
  assert.deepEqual(w.messages, [
    { role: 'assistant', content: 'calling', tool_calls: [{ function: { name: 'f', arguments: { a: [1] } } }] },
    { role: 'tool', content: 'ok', tool_name: 'f' },
    { role: 'tool', content: 'orphan' },
  ]);
  assert.throws(() =>
    chatToWork(chat({ messages: [{ role: 'assistant', tool_calls: [{ id: 'c', type: 'function', function: { name: 'f', arguments: '[1]' } }] }] })),
  );
});

test('completions: prompt (or a one-element list) and suffix', () => {
  assert.deepEqual(completionToWork(completionRequestSchema.parse({ model: 'm', prompt: ['p'], suffix: 's', max_tokens: 5 })), {
    kind: 'generate',
    prompt: 'p',
    suffix: 's',
    options: { temperature: 1, top_p: 1, num_predict: 5 },
  });
  assert.equal(completionToWork(completionRequestSchema.parse({ model: 'm', prompt: 'p', suffix: null })).suffix, undefined);
});
