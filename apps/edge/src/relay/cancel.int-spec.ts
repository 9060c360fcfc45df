import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Queue } from 'bullmq';
import { Queues } from '@switchyard/contracts';
import { APIError } from 'openai';
import { assertOpenAISchema } from '@switchyard/testing';
import { ALL_KEY, startEdgeHarness, waitFor, type EdgeHarness } from '../testing/edge-harness';

describe('a client that goes away cancels its job', () => {
  let h: EdgeHarness;
  let cold: Queue;
  const queued = async () => {
    const c = await cold.getJobCounts('waiting', 'prioritized', 'delayed');
    return (c.waiting ?? 0) + (c.prioritized ?? 0) + (c.delayed ?? 0);
  };

  before(async () => {
    h = await startEdgeHarness({ env: { EDGE_REQUEST_TIMEOUT_MS: '1500' } });
    // No worker serves cold:70b: its jobs wait in the queue.
    cold = new Queue(Queues.inference('shared', 'cold:70b'), { connection: h.redis, prefix: Queues.bullPrefix(h.prefix) });
  });
  after(async () => {
    await cold.close();
    await h.close();
  });

  test('a waiting streamed job leaves the queue within 1 s of the disconnect', async () => {
    const ctl = new AbortController();
    const stream = await h.client().chat.completions.create(
      { model: 'cold:70b', messages: [{ role: 'user', content: 'hi' }], stream: true },
      { signal: ctl.signal },
    );
    await waitFor(async () => (await queued()) === 1);
    const job = (await cold.getJobs(['waiting', 'prioritized']))[0];
    const aborted = Date.now();
    ctl.abort();
    void (async () => {
      for await (const _ of stream) void _;
    })().catch(() => undefined);
    await waitFor(async () => (await queued()) === 0, 1000, 5);
    assert.ok(Date.now() - aborted < 1000);
    assert.equal(await cold.getJob(job.id ?? ''), undefined);
    await waitFor(() => h.worker.cancels.some((c) => c.requestId === job.id));
  });

  test('a waiting non-stream job leaves the queue too', async () => {
    const ctl = new AbortController();
    const pending = fetch(`${h.url}/v1/embeddings`, {
      method: 'POST',
      headers: { authorization: `Bearer ${ALL_KEY}`, 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'cold:70b', input: 'x' }),
      signal: ctl.signal,
    }).catch(() => undefined);
    await waitFor(async () => (await queued()) === 1);
    ctl.abort();
    await pending;
    await waitFor(async () => (await queued()) === 0, 1000, 5);
  });

  test('a client gone while its request was being admitted: the job is taken back as soon as it is queued', async () => {
    const key = 'sk-test-slow-verify-0123456789abcd';
    h.auth.add(key, { keyId: 'key-slow', userId: 'u-slow' });
    h.auth.delayMs = 300;
    const ctl = new AbortController();
    const pending = fetch(`${h.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'cold:70b', messages: [{ role: 'user', content: 'hi' }], stream: true }),
      signal: ctl.signal,
    }).catch(() => undefined);
    await new Promise((r) => setTimeout(r, 100));
    const cancelsBefore = h.worker.cancels.length;
    ctl.abort();
    await pending;
    // Well before EDGE_REQUEST_TIMEOUT_MS (1.5 s) would have cancelled it anyway.
    await waitFor(() => h.worker.cancels.length > cancelsBefore, 800);
    assert.equal(await queued(), 0);
  });

  test('a running job is aborted on its worker within 1 s (cancel message)', async () => {
    const ctl = new AbortController();
    const stream = await h.client().chat.completions.create(
      { model: 'llama3.1:8b', messages: [{ role: 'user', content: 'long answer [slow]' }], stream: true },
      { signal: ctl.signal },
    );
    let chunks = 0;
    const reading = (async () => {
      for await (const chunk of stream) {
        assertOpenAISchema('CreateChatCompletionStreamResponse', chunk);
        if (++chunks === 2) break;
      }
    })();
    await reading;
    const job = h.worker.received[h.worker.received.length - 1];
    const aborted = Date.now();
    ctl.abort();
    await waitFor(() => h.worker.aborted.has(job.requestId), 1000, 5);
    const elapsed = (h.worker.aborted.get(job.requestId) ?? Infinity) - aborted;
    assert.ok(elapsed < 1000, `aborted after ${elapsed} ms`);
    await waitFor(async () => /switchyard_edge_inflight_streams 0/.test(await h.metrics()));
  });

  test('a job that outlives EDGE_REQUEST_TIMEOUT_MS is cancelled and answered 504', async () => {
    await assert.rejects(h.client().chat.completions.create({ model: 'cold:70b', messages: [{ role: 'user', content: 'hi' }] }), (err: unknown) => {
      assert.ok(err instanceof APIError);
      assert.equal(err.status, 504);
      assert.equal(err.code, 'timeout');
      assertOpenAISchema('ErrorResponse', { error: err.error });
      return true;
    });
    assert.equal(await queued(), 0);
  });
});
