import { test } from 'node:test';
import assert from 'node:assert/strict';
import { RecordingSink } from '../testing/recording-sink';
import { testLogger } from '../testing/test-logger';
import { sleep } from '../testing/wait';
import { RelayPublisher } from './relay.publisher';

const config = { SWITCHYARD_PREFIX: 'tp', WORKER_ID: 'w1', WORKER_RELAY_COALESCE_MS: 10 };
const usage = { promptTokens: 1, completionTokens: 2, queueMs: 0, loadMs: 0, promptEvalMs: 0, evalMs: 0, totalMs: 0 };

test("messages go to the edge's channel in seq order: started, chunks, final", async () => {
  const sink = new RecordingSink();
  const stream = new RelayPublisher(sink, config, testLogger()).open({ requestId: 'r1', edgeId: 'edge-a' });
  stream.started(12);
  stream.token('Hello');
  stream.token(' world');
  stream.final({ finishReason: 'stop', usage });
  await stream.drained();
  assert.ok(sink.published.every((p) => p.channel === 'tp:relay:edge-a'));
  const msgs = sink.messages();
  assert.deepEqual(msgs.map((m) => m.seq), msgs.map((_, i) => i));
  // ' world' came within the interval: it is still held when the run ends, so it travels in the final.
  assert.deepEqual(msgs.map((m) => m.type), ['started', 'chunk', 'final']);
  const text = msgs.flatMap((m) => (m.type === 'chunk' || m.type === 'final' ? [m.content ?? ''] : [])).join('');
  assert.equal(text, 'Hello world');
});

test('tokens faster than the interval are coalesced: far fewer publishes than tokens, the first at once', async () => {
  const sink = new RecordingSink();
  const stream = new RelayPublisher(sink, config, testLogger()).open({ requestId: 'r2', edgeId: 'e' });
  const t0 = performance.now();
  stream.token('first ');
  assert.equal(sink.messages().length, 1, 'the first token is published immediately');
  for (let i = 0; i < 200; i++) {
    stream.token(`t${i} `);
    if (i % 20 === 0) await sleep(1);
  }
  await sleep(30);
  stream.final({ finishReason: 'stop', usage });
  await stream.drained();
  const chunks = sink.published.filter((p) => p.message.type === 'chunk' || p.message.type === 'final');
  const elapsed = performance.now() - t0;
  assert.ok(chunks.length <= Math.ceil(elapsed / 10) + 2, `${chunks.length} chunk publishes in ${elapsed.toFixed(0)} ms`);
  assert.ok(chunks.length < 20);
  for (let i = 1; i < chunks.length; i++) assert.ok(chunks[i].at - chunks[i - 1].at >= 8, 'publishes at least ~10 ms apart');
  const text = chunks.map((c) => (c.message.type === 'chunk' || c.message.type === 'final' ? (c.message.content ?? '') : '')).join('');
  assert.equal(text, `first ${Array.from({ length: 200 }, (_, i) => `t${i} `).join('')}`);
});

test('an error after text flushes it first and says afterFirstToken', async () => {
  const sink = new RecordingSink();
  const stream = new RelayPublisher(sink, config, testLogger()).open({ requestId: 'r3', edgeId: 'e' });
  stream.started(0);
  stream.token('a');
  stream.token('b');
  stream.error({ status: 503, message: 'gone', code: null, flushPending: true });
  stream.token('late');
  await stream.drained();
  const msgs = sink.messages();
  assert.deepEqual(msgs.map((m) => m.type), ['started', 'chunk', 'chunk', 'error']);
  const last = msgs[3];
  assert.ok(last.type === 'error' && last.afterFirstToken && last.status === 503);
});

test('a non-streaming job holds its text and sends it in its final: the whole answer is one message', async () => {
  const sink = new RecordingSink();
  const stream = new RelayPublisher(sink, config, testLogger()).open({ requestId: 'r4', edgeId: 'e' }, { coalesceMs: Infinity });
  for (let i = 0; i < 50; i++) stream.token('x');
  stream.token('', [{ function: { name: 'f', arguments: {} } }]);
  await sleep(20);
  assert.equal(sink.messages().length, 0);
  assert.equal(stream.relayedContent, false);
  stream.final({ finishReason: 'length', usage });
  await stream.drained();
  const msgs = sink.messages();
  assert.deepEqual(msgs.map((m) => m.type), ['final']);
  assert.ok(msgs[0].type === 'final');
  assert.equal(msgs[0].seq, 0);
  assert.equal(msgs[0].content, 'x'.repeat(50));
  assert.deepEqual(msgs[0].toolCalls, [{ function: { name: 'f', arguments: {} } }]);
});

test('an error before anything was relayed drops buffered text and says afterFirstToken false', async () => {
  const sink = new RecordingSink();
  const stream = new RelayPublisher(sink, config, testLogger()).open({ requestId: 'r5', edgeId: 'e' }, { coalesceMs: Infinity });
  stream.token('x');
  stream.error({ status: 503, message: 'down', code: null, flushPending: false });
  await stream.drained();
  const msgs = sink.messages();
  assert.equal(msgs.length, 1);
  assert.ok(msgs[0].type === 'error' && !msgs[0].afterFirstToken);
});
