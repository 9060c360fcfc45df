import { test } from 'node:test';
import assert from 'node:assert/strict';
import { relayMessageSchema } from '@switchyard/contracts';
import { parseRelayMessage } from './relay-message';

const usage = { promptTokens: 3, completionTokens: 1, queueMs: 0, loadMs: 0, promptEvalMs: 1.5, evalMs: 2, totalMs: 4 };
const base = { requestId: 'r', runId: 'a', seq: 1 };

const good: unknown[] = [
  { type: 'started', ...base, seq: 0, workerId: 'w', queueMs: 3 },
  { type: 'chunk', ...base, content: 'Hi' },
  { type: 'chunk', ...base, content: '', toolCalls: [{ function: { name: 'f', arguments: { x: 1 } } }] },
  { type: 'final', ...base, workerId: 'w', finishReason: 'stop', usage },
  { type: 'final', ...base, workerId: 'w', finishReason: 'stop', usage, embeddings: [[0.1, 0.2]] },
  { type: 'error', ...base, status: 503, message: 'down', code: null, afterFirstToken: false },
  { type: 'lost', requestId: 'r', workerId: 'w', requeued: true, reason: 'gone' },
];

const bad: unknown[] = [
  null,
  'chunk',
  { type: 'chunk', ...base },
  { type: 'chunk', ...base, seq: 1.5, content: 'x' },
  { type: 'chunk', ...base, runId: '', content: 'x' },
  { type: 'started', ...base, workerId: 'w', queueMs: -1 },
  { type: 'final', ...base, workerId: 'w', finishReason: 'done', usage },
  { type: 'final', ...base, workerId: 'w', finishReason: 'stop', usage: { ...usage, completionTokens: -1 } },
  { type: 'final', ...base, workerId: 'w', finishReason: 'stop', usage: { ...usage, totalMs: undefined } },
  { type: 'error', ...base, status: 503, message: 'x', code: 1, afterFirstToken: false },
  { type: 'lost', requestId: 'r', workerId: 'w', reason: 'gone' },
  { type: 'nope', ...base },
];

test('relay messages are accepted and refused exactly as the contract schema does', () => {
  for (const m of [...good, ...bad]) {
    const parsed = parseRelayMessage(m);
    assert.equal(parsed.ok, relayMessageSchema.safeParse(m).success, JSON.stringify(m));
    if (parsed.ok) assert.equal(parsed.message.requestId, 'r');
  }
  assert.ok(good.every((m) => parseRelayMessage(m).ok));
  const refused = parseRelayMessage({ type: 'chunk', ...base });
  assert.ok(!refused.ok && refused.issues.some((i) => i.startsWith('content')));
});
