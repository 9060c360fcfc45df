import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { anthropicMessageSchema, anthropicStreamEventSchema, type RelayFinal } from '@switchyard/contracts';
import type { RelayChunk } from '../../pipeline/inference-pipeline.service';
import { MessageRenderer } from './renderer';

const base = { requestId: 'r', runId: 'run', seq: 0 };
const chunk = (content: string, toolCalls?: RelayChunk['toolCalls']): RelayChunk => ({ type: 'chunk', ...base, content, ...(toolCalls ? { toolCalls } : {}) });
const final = (finishReason: RelayFinal['finishReason'], completionTokens = 2): RelayFinal => ({
  type: 'final',
  ...base,
  workerId: 'w',
  finishReason,
  usage: { promptTokens: 11, completionTokens, queueMs: 0, loadMs: 0, promptEvalMs: 0, evalMs: 0, totalMs: 0 },
});

describe('MessageRenderer', () => {
  test('text, a tool call, more text: three blocks with their own indexes, each started and stopped once', () => {
    const r = new MessageRenderer('m', 9);
    const events = [
      ...r.start(),
      ...r.chunk(chunk('Let me check.')),
      ...r.chunk(chunk('', [{ function: { name: 'lookup', arguments: { q: 'x' } } }])),
      ...r.chunk(chunk('Done')),
      ...r.finish(final('stop')),
    ];
    for (const e of events) anthropicStreamEventSchema.parse(e);
    assert.deepEqual(
      events.map((e) => `${e.type}${'index' in e ? `#${e.index}` : ''}`),
      [
        'message_start',
        'content_block_start#0',
        'content_block_delta#0',
        'content_block_stop#0',
        'content_block_start#1',
        'content_block_delta#1',
        'content_block_stop#1',
        'content_block_start#2',
        'content_block_delta#2',
        'content_block_stop#2',
        'message_delta',
        'message_stop',
      ],
    );
    const start = events[0];
    assert.ok(start.type === 'message_start');
    assert.deepEqual(start.message.usage, { input_tokens: 9, output_tokens: 0 });
    const body = anthropicMessageSchema.parse(r.body(final('stop')));
    assert.deepEqual(body.content.map((b) => b.type), ['text', 'tool_use', 'text']);
    assert.equal(body.stop_reason, 'tool_use');
    assert.deepEqual(body.usage, { input_tokens: 11, output_tokens: 2 });
  });

  test('an answer with nothing in it still has one empty text block, streamed or whole', () => {
    const streamed = new MessageRenderer('m', 1);
    const events = streamed.finish(final('length', 0));
    assert.deepEqual(events.map((e) => e.type), ['content_block_start', 'content_block_stop', 'message_delta', 'message_stop']);
    const delta = events[2];
    assert.ok(delta.type === 'message_delta');
    assert.deepEqual(delta.delta, { stop_reason: 'max_tokens', stop_sequence: null });
    const whole = new MessageRenderer('m', 1).body(final('stop', 0));
    assert.deepEqual(whole.content, [{ type: 'text', text: '' }]);
    assert.equal(whole.stop_reason, 'end_turn');
  });
});
