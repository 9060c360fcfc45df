import { test } from 'node:test';
import assert from 'node:assert/strict';
import { UnrecoverableError } from 'bullmq';
import type { RelayMessage } from '@switchyard/contracts';
import { OllamaConnectionError, OllamaHttpError } from '../ollama/ollama.errors';
import type { OllamaChatRequest, OllamaGenerateRequest, OllamaEmbedRequest } from '../ollama/ollama.schema';
import { chatLines } from '../testing/fake-ollama';
import { makeJob } from '../testing/jobs.fixture';
import { bullJob, processorWithFakes } from '../testing/processor.fixture';
import { sleep, waitFor } from '../testing/wait';

const run = { model: 'llama3.1:8b', numCtx: 8192 };
const types = (msgs: RelayMessage[]) => msgs.map((m) => m.type);

test('a chat job becomes /api/chat with the fixed num_ctx and keep_alive -1, relayed as started, chunks, final; usage recorded', async () => {
  const f = processorWithFakes();
  f.ollama.scripts = [chatLines(5, { promptTokens: 11 })];
  const job = makeJob({ numCtx: 4096, work: { kind: 'chat', messages: [{ role: 'user', content: 'hi' }], options: { temperature: 0.2, num_predict: 5 } } });
  const result = await f.processor.process(bullJob(job), run);
  assert.equal(result.outcome, 'ok');

  const call = f.ollama.calls.find((c) => c.op === 'chat');
  const body = call?.body as OllamaChatRequest;
  assert.equal(body.model, 'llama3.1:8b');
  assert.equal(body.options.num_ctx, 8192, "the loaded model's num_ctx, whatever the job says");
  assert.equal(body.options.temperature, 0.2);
  assert.equal(body.keep_alive, -1);
  assert.equal(body.truncate, false);
  assert.equal(body.stream, true);

  const msgs = f.sink.messages(job.requestId);
  assert.equal(msgs[0].type, 'started');
  assert.equal(msgs.at(-1)?.type, 'final');
  assert.deepEqual(msgs.map((m) => m.seq), msgs.map((_, i) => i));
  const text = msgs.flatMap((m) => (m.type === 'chunk' || m.type === 'final' ? [m.content ?? ''] : [])).join('');
  assert.equal(text, 'tok0 tok1 tok2 tok3 tok4 ');
  const final = msgs.at(-1);
  assert.ok(final?.type === 'final');
  assert.equal(final.finishReason, 'stop');
  assert.deepEqual(
    { p: final.usage.promptTokens, c: final.usage.completionTokens, load: final.usage.loadMs, eval: final.usage.evalMs, total: final.usage.totalMs },
    { p: 11, c: 5, load: 100, eval: 1000, total: 2000 },
  );

  await f.usage.flush(1000);
  assert.equal(f.usageTransport.calls.length, 1);
  assert.deepEqual(
    { ...f.usageTransport.calls[0], generationMs: 0, queueMs: 0 },
    { requestId: job.requestId, keyId: 'key_test', userId: 'user_test', model: 'llama3.1:8b', promptTokens: 11, completionTokens: 5, queueMs: 0, generationMs: 0, workerId: 'w-test', outcome: 'ok', pool: 'shared', createdAtMs: job.createdAt },
  );
  assert.equal(f.running.busySlots('llama3.1:8b'), 0);
});

test('a completion with suffix becomes /api/generate with suffix; done_reason length maps to length', async () => {
  const f = processorWithFakes();
  f.ollama.scripts = [chatLines(2, { doneReason: 'length' }).map((l) => ({ ...l, message: undefined, response: l.message?.content }))];
  const job = makeJob({ work: { kind: 'generate', prompt: 'def f(', suffix: '\n  return x', options: {} } });
  const result = await f.processor.process(bullJob(job), run);
  const body = f.ollama.calls.find((c) => c.op === 'generate')?.body as OllamaGenerateRequest;
  assert.equal(body.prompt, 'def f(');
  assert.equal(body.suffix, '\n  return x');
  assert.equal(body.options.num_ctx, 8192);
  assert.equal(result.outcome, 'length');
  const final = f.sink.messages(job.requestId).at(-1);
  assert.ok(final?.type === 'final' && final.finishReason === 'length');
});

test('tool calls are relayed and finish with tool_calls', async () => {
  const f = processorWithFakes();
  const call = { function: { name: 'get_weather', arguments: { city: 'Oslo' } } };
  f.ollama.scripts = [[{ message: { role: 'assistant', content: '', tool_calls: [call] }, done: false }, ...chatLines(0)]];
  const job = makeJob();
  await f.processor.process(bullJob(job), run);
  const msgs = f.sink.messages(job.requestId);
  const chunk = msgs.find((m) => m.type === 'chunk');
  assert.ok(chunk?.type === 'chunk');
  assert.deepEqual(chunk.toolCalls, [call]);
  const final = msgs.at(-1);
  assert.ok(final?.type === 'final' && final.finishReason === 'tool_calls');
});

test('an embed job becomes /api/embed (truncate false, num_ctx) and the final carries the embeddings', async () => {
  const f = processorWithFakes();
  const job = makeJob({ model: 'nomic-embed-text', numCtx: 2048, stream: false, work: { kind: 'embed', input: ['a', 'b'], dimensions: 2 } });
  await f.processor.process(bullJob(job), { model: 'nomic-embed-text', numCtx: 2048 });
  const body = f.ollama.calls.find((c) => c.op === 'embed')?.body as OllamaEmbedRequest;
  assert.deepEqual(body, { model: 'nomic-embed-text', input: ['a', 'b'], dimensions: 2, truncate: false, options: { num_ctx: 2048 }, keep_alive: -1 });
  const final = f.sink.messages(job.requestId).at(-1);
  assert.ok(final?.type === 'final');
  assert.deepEqual(final.embeddings, [[0.1, 0.2]]);
  assert.equal(final.usage.promptTokens, 3);
});

test('a prompt too long (Ollama 400) relays 400 context_length_exceeded and fails without retry', async () => {
  const f = processorWithFakes();
  f.ollama.requestError = new OllamaHttpError(400, 'the prompt is longer than the context length currently available to the model; shorten the prompt');
  const job = makeJob();
  await assert.rejects(f.processor.process(bullJob(job), run), UnrecoverableError);
  const msgs = f.sink.messages(job.requestId);
  assert.deepEqual(types(msgs), ['started', 'error']);
  const err = msgs[1];
  assert.ok(err.type === 'error');
  assert.deepEqual({ status: err.status, code: err.code, after: err.afterFirstToken }, { status: 400, code: 'context_length_exceeded', after: false });
  assert.deepEqual(f.health.failures, []);
});

test('Ollama 503 before the first token: the job throws for a retry, nothing but started is relayed, the worker is degraded', async () => {
  const f = processorWithFakes();
  f.ollama.requestError = new OllamaHttpError(503, 'server busy, please try again.  maximum pending requests exceeded');
  const job = makeJob();
  await assert.rejects(f.processor.process(bullJob(job, { attemptsMade: 0, attempts: 3 }), run), (err: unknown) => err instanceof Error && !(err instanceof UnrecoverableError));
  assert.deepEqual(types(f.sink.messages(job.requestId)), ['started']);
  assert.deepEqual(f.health.failures, ['server-error']);
});

test('a refused connection on the last attempt relays a 503 error so the edge never hangs', async () => {
  const f = processorWithFakes();
  f.ollama.requestError = new OllamaConnectionError('connect ECONNREFUSED');
  const job = makeJob();
  await assert.rejects(f.processor.process(bullJob(job, { attemptsMade: 2, attempts: 3 }), run));
  const msgs = f.sink.messages(job.requestId);
  assert.deepEqual(types(msgs), ['started', 'error']);
  assert.ok(msgs[1].type === 'error' && msgs[1].status === 503 && !msgs[1].afterFirstToken);
  assert.deepEqual(f.health.failures, ['unreachable']);
});

test('a failure after the first token relays an in-band error (after the text) and fails without retry', async () => {
  const f = processorWithFakes();
  f.ollama.scripts = [[...chatLines(3).slice(0, 3), { fail: new OllamaConnectionError('socket hang up') }]];
  const job = makeJob();
  await assert.rejects(f.processor.process(bullJob(job, { attemptsMade: 0 }), run), UnrecoverableError);
  const msgs = f.sink.messages(job.requestId);
  assert.equal(msgs.at(-1)?.type, 'error');
  const err = msgs.at(-1);
  assert.ok(err?.type === 'error' && err.afterFirstToken);
  const text = msgs.flatMap((m) => (m.type === 'chunk' ? [m.content] : [])).join('');
  assert.equal(text, 'tok0 tok1 tok2 ', 'every token before the failure reached the edge');
  await f.usage.flush(1000);
  assert.equal(f.usageTransport.calls[0]?.outcome, 'error');
});

test('a non-streaming job that breaks mid-generation is retried: nothing had reached the client', async () => {
  const f = processorWithFakes();
  f.ollama.scripts = [[...chatLines(3).slice(0, 3), { fail: new OllamaConnectionError('socket hang up') }]];
  const job = makeJob({ stream: false });
  await assert.rejects(f.processor.process(bullJob(job, { attemptsMade: 0 }), run), (err: unknown) => !(err instanceof UnrecoverableError));
  assert.deepEqual(types(f.sink.messages(job.requestId)), [], 'a non-stream run publishes nothing before its end');
});

test('a non-stream job is relayed as one final carrying the whole answer (no started, no chunk): seq 0, with the queue wait and the service time', async () => {
  const f = processorWithFakes();
  f.ollama.scripts = [chatLines(4, { promptTokens: 7 })];
  const job = makeJob({ stream: false, createdAt: Date.now() - 250 });
  const before = performance.now();
  await f.processor.process(bullJob(job), run);
  const tookMs = performance.now() - before;
  assert.equal((f.ollama.calls.find((c) => c.op === 'chat')?.body as OllamaChatRequest).stream, false, 'Ollama is asked for the whole answer at once');
  const msgs = f.sink.messages(job.requestId);
  assert.deepEqual(types(msgs), ['final']);
  assert.deepEqual(msgs.map((m) => m.seq), [0]);
  const final = msgs[0];
  assert.ok(final.type === 'final' && final.content === 'tok0 tok1 tok2 tok3 ');
  assert.ok(final.type === 'final' && final.workerId === 'w-test');
  assert.ok(final.usage.queueMs >= 250, `queue wait ${final.usage.queueMs} ms`);
  assert.ok(final.serviceMs !== undefined && final.serviceMs >= 0 && final.serviceMs <= tookMs, `service ${final.serviceMs} ms of ${tookMs}`);
});

test('a cancel aborts the Ollama request at once, frees the slot, relays nothing more and completes the job', async () => {
  const f = processorWithFakes();
  const slow = chatLines(100).flatMap((l) => [l, { waitMs: 20 }]);
  f.ollama.scripts = [slow];
  const job = makeJob();
  const done = f.processor.process(bullJob(job), run);
  await waitFor(() => f.sink.messages(job.requestId).some((m) => m.type === 'chunk'), 2000, 'a chunk');
  assert.equal(f.running.busySlots(run.model), 1);
  const t0 = performance.now();
  assert.equal(f.running.cancel(job.requestId, 'client disconnected'), true);
  const result = await done;
  assert.ok(performance.now() - t0 < 200, 'aborted promptly');
  assert.equal(result.outcome, 'cancelled');
  assert.equal(f.ollama.open, 0, 'the Ollama stream is closed');
  assert.equal(f.running.busySlots(run.model), 0);
  const after = f.sink.messages(job.requestId).length;
  await sleep(50);
  assert.equal(f.sink.messages(job.requestId).length, after);
  assert.ok(!f.sink.messages(job.requestId).some((m) => m.type === 'final' || m.type === 'error'));
});

test('a job cancelled before it started is completed without calling Ollama', async () => {
  const f = processorWithFakes();
  const job = makeJob();
  f.running.cancel(job.requestId, 'client disconnected');
  const result = await f.processor.process(bullJob(job), run);
  assert.equal(result.outcome, 'cancelled');
  assert.equal(f.ollama.calls.length, 0);
  assert.equal(f.sink.messages().length, 0);
});

test('job data that does not match the contract fails without retry', async () => {
  const f = processorWithFakes();
  await assert.rejects(f.processor.process(bullJob({ requestId: 'r', model: 'x' }), run), UnrecoverableError);
  await assert.rejects(f.processor.process(bullJob(makeJob({ model: 'other:7b' })), run), UnrecoverableError);
});

test('time to first token and generated tokens are measured; no request id ever becomes a label', async () => {
  const f = processorWithFakes();
  f.ollama.scripts = [chatLines(4)];
  const job = makeJob();
  await f.processor.process(bullJob(job), run);
  const text = await f.registry.metrics();
  assert.match(text, /switchyard_worker_jobs_total\{model="llama3.1:8b",outcome="ok"\} 1/);
  assert.match(text, /switchyard_worker_generated_tokens_total\{model="llama3.1:8b"\} 4/);
  assert.match(text, /switchyard_worker_time_to_first_token_seconds_count\{model="llama3.1:8b"\} 1/);
  assert.match(text, /switchyard_worker_tokens_per_second_count\{model="llama3.1:8b"\} 1/);
  assert.ok(!text.includes(job.requestId));
  // A non-stream job's answer comes whole; its time to first token is still observed once.
  f.ollama.scripts = [chatLines(4)];
  await f.processor.process(bullJob(makeJob({ stream: false })), run);
  assert.match(await f.registry.metrics(), /switchyard_worker_time_to_first_token_seconds_count\{model="llama3.1:8b"\} 2/);
});
