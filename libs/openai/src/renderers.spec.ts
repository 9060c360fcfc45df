import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { RelayFinal } from '@switchyard/contracts';
import { assertOpenAISchema } from '@switchyard/testing';
import { ChatRenderer, TextRenderer } from './renderers';

const final = (finishReason: RelayFinal['finishReason'] = 'stop'): RelayFinal => ({
  type: 'final',
  requestId: 'r', runId: 'run1',
  seq: 9,
  workerId: 'w',
  finishReason,
  usage: { promptTokens: 5, completionTokens: 2, queueMs: 0, loadMs: 0, promptEvalMs: 1, evalMs: 1, totalMs: 2 },
});
const chunk = (content: string, toolCalls?: Array<{ function: { name: string; arguments: Record<string, unknown> } }>) => ({
  type: 'chunk' as const,
  requestId: 'r', runId: 'run1',
  seq: 1,
  content,
  ...(toolCalls ? { toolCalls } : {}),
});

test('an answer with no text still streams a role chunk before the finish chunk', () => {
  const r = new ChatRenderer('m', 1700000000);
  assert.deepEqual(r.chunk(chunk('')), []);
  const out = r.finish(final()) as Array<{ choices: Array<{ delta: object; finish_reason: string | null }> }>;
  assert.equal(out.length, 2);
  assert.deepEqual(out[0].choices[0].delta, { role: 'assistant', content: '' });
  assert.equal(out[1].choices[0].finish_reason, 'stop');
  for (const c of out) assertOpenAISchema('CreateChatCompletionStreamResponse', c);
});

test('tool calls: indexed deltas, and finish_reason tool_calls even when the worker said stop', () => {
  const r = new ChatRenderer('m', 1700000000);
  const [first] = r.chunk(chunk('', [{ function: { name: 'a', arguments: { x: 1 } } }])) as Array<{ choices: Array<{ delta: Record<string, unknown> }> }>;
  assert.equal(first.choices[0].delta.role, 'assistant');
  assert.equal(first.choices[0].delta.content, null);
  const [second] = r.chunk(chunk('', [{ function: { name: 'b', arguments: {} } }])) as Array<{ choices: Array<{ delta: { tool_calls: Array<{ index: number }> } }> }>;
  assert.equal(second.choices[0].delta.tool_calls[0].index, 1);
  const body = r.body(final('stop'));
  assertOpenAISchema('CreateChatCompletionResponse', body);
  assert.equal(body.choices[0].finish_reason, 'tool_calls');
  assert.deepEqual(body.choices[0].message.tool_calls?.map((c) => [c.function.name, c.function.arguments]), [
    ['a', '{"x":1}'],
    ['b', '{}'],
  ]);
  assert.deepEqual(body.usage, { prompt_tokens: 5, completion_tokens: 2, total_tokens: 7 });
});

test('text completions never report tool_calls; echo prefixes the prompt once', () => {
  const r = new TextRenderer('m', 1700000000, 'P:');
  const [a] = r.chunk(chunk('x')) as Array<{ choices: Array<{ text: string }> }>;
  const [b] = r.chunk(chunk('y')) as Array<{ choices: Array<{ text: string }> }>;
  assert.equal(a.choices[0].text, 'P:x');
  assert.equal(b.choices[0].text, 'y');
  const body = r.body(final('tool_calls'));
  assert.equal(body.choices[0].text, 'P:xy');
  assert.equal(body.choices[0].finish_reason, 'stop');
  assertOpenAISchema('CreateCompletionResponse', body);
});
