import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { responsesRequestSchema, type RelayFinal } from '@switchyard/contracts';
import { assertOpenAISchema } from '@switchyard/testing';
import { ResponsesRenderer } from './renderer';
import { responsesStream } from './responses-stream';
import { responsesToWork } from './translation';

const final = (finishReason: RelayFinal['finishReason'] = 'stop'): RelayFinal => ({
  type: 'final',
  requestId: 'r',
  runId: 'run1',
  seq: 9,
  workerId: 'w',
  finishReason,
  usage: { promptTokens: 5, completionTokens: 2, queueMs: 0, loadMs: 0, promptEvalMs: 1, evalMs: 1, totalMs: 2 },
});
const chunk = (content: string, toolCalls?: Array<{ function: { name: string; arguments: Record<string, unknown> } }>) => ({
  type: 'chunk' as const,
  requestId: 'r',
  runId: 'run1',
  seq: 1,
  content,
  ...(toolCalls ? { toolCalls } : {}),
});

/** The events a stream writes, parsed back from its SSE text. */
function parse(text: string): Array<{ type: string; sequence_number: number; [k: string]: unknown }> {
  return text
    .split('\n\n')
    .filter((b) => b.startsWith('event: '))
    .map((b) => JSON.parse(b.split('\n')[1].slice('data: '.length)));
}

describe('Responses renderer and stream', () => {
  test('text then a tool call: the message closes before the function_call item opens; every event valid and numbered', () => {
    const req = responsesRequestSchema.parse({ model: 'm', input: 'hi' });
    const s = responsesStream(new ResponsesRenderer(req, 1700000000));
    const text = (s.opening?.() ?? '') + s.chunk(chunk('Let me look.')) + s.chunk(chunk('', [{ function: { name: 'f', arguments: { a: 1 } } }])) + s.final(final());
    const events = parse(text);
    for (const e of events) assertOpenAISchema('ResponseStreamEvent', e);
    assert.deepEqual(
      events.map((e) => e.sequence_number),
      events.map((_, i) => i),
    );
    assert.deepEqual(
      events.map((e) => e.type),
      [
        'response.created',
        'response.in_progress',
        'response.output_item.added',
        'response.content_part.added',
        'response.output_text.delta',
        'response.output_text.done',
        'response.content_part.done',
        'response.output_item.done',
        'response.output_item.added',
        'response.function_call_arguments.delta',
        'response.function_call_arguments.done',
        'response.output_item.done',
        'response.completed',
      ],
    );
    assert.equal(events[8].output_index, 1);
    const done = events[events.length - 1].response as { output: Array<{ type: string; status: string }> };
    assert.deepEqual(
      done.output.map((o) => [o.type, o.status]),
      [
        ['message', 'completed'],
        ['function_call', 'completed'],
      ],
    );
  });

  test('an answer with no text still has an (empty) message item', () => {
    const r = new ResponsesRenderer(responsesRequestSchema.parse({ model: 'm', input: 'hi' }), 1700000000);
    r.finish(final());
    const body = r.response() as { output: Array<{ type: string; content: Array<{ text: string }> }> };
    assertOpenAISchema('Response', body);
    assert.equal(body.output[0].content[0].text, '');
  });
});

describe('Responses translation', () => {
  test('parallel function calls after assistant text join one assistant turn; each output names its call', () => {
    const req = responsesRequestSchema.parse({
      model: 'm',
      input: [
        { role: 'user', content: 'Paris and Rome?' },
        { role: 'assistant', content: 'Looking.' },
        { type: 'function_call', call_id: 'c1', name: 'weather', arguments: '{"city":"Paris"}' },
        { type: 'function_call', call_id: 'c2', name: 'time', arguments: '' },
        { type: 'function_call_output', call_id: 'c2', output: [{ type: 'input_text', text: '12:00' }] },
        { type: 'function_call_output', call_id: 'c1', output: 'sunny' },
      ],
    });
    assert.deepEqual(responsesToWork(req).messages, [
      { role: 'user', content: 'Paris and Rome?' },
      {
        role: 'assistant',
        content: 'Looking.',
        tool_calls: [{ function: { name: 'weather', arguments: { city: 'Paris' } } }, { function: { name: 'time', arguments: {} } }],
      },
      { role: 'tool', content: '12:00', tool_name: 'time' },
      { role: 'tool', content: 'sunny', tool_name: 'weather' },
    ]);
  });
});
