import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import OpenAI, { NotFoundError, toFile } from 'openai';
import type { Batch } from 'openai/resources/batches';
import { assertOpenAISchema } from '@switchyard/testing';
import { admin, startPlatform, type Platform } from './platform';

/**
 * OpenAI's Files and Batch APIs on the whole platform, driven by the official client exactly as a
 * bulk user would: through the edge (which relays to apps/batch), lines run on the simulated GPUs.
 */
let p: Platform;
let client: OpenAI;

const MODEL = 'llama3.1:8b';
const TERMINAL = new Set(['completed', 'failed', 'expired', 'cancelled']);

interface OutputLine {
  id: string;
  custom_id: string;
  response: { status_code: number; request_id: string; body: unknown } | null;
  error: { code: string; message: string } | null;
}

before(async () => {
  p = await startPlatform();
  // Retries ride over the batch service's restart (the edge answers 503 with Retry-After meanwhile).
  client = new OpenAI({ baseURL: `${p.baseUrl}/v1`, apiKey: p.demoKey, maxRetries: 6, timeout: 30_000 });
});

after(async () => {
  await p?.stop();
});

const chatLine = (customId: string, content: string, model = MODEL, maxTokens = 8) =>
  JSON.stringify({ custom_id: customId, method: 'POST', url: '/v1/chat/completions', body: { model, max_tokens: maxTokens, messages: [{ role: 'user', content }] } });

async function upload(c: OpenAI, lines: string[], name = 'requests.jsonl') {
  return c.files.create({ file: await toFile(Buffer.from(`${lines.join('\n')}\n`), name), purpose: 'batch' });
}

async function submit(c: OpenAI, lines: string[]): Promise<Batch> {
  const file = await upload(c, lines);
  return c.batches.create({ input_file_id: file.id, endpoint: '/v1/chat/completions', completion_window: '24h', metadata: { suite: 'e2e' } });
}

/** Polls `batches.retrieve` until `done` (a terminal status by default), riding over a service that is briefly away. */
async function poll(id: string, done: (b: Batch) => boolean = (b) => TERMINAL.has(b.status), timeoutMs = 45_000): Promise<Batch> {
  const deadline = Date.now() + timeoutMs;
  let last: Batch | undefined;
  for (;;) {
    try {
      last = await client.batches.retrieve(id);
      if (done(last)) return last;
    } catch (err) {
      if (err instanceof NotFoundError) throw err;
    }
    if (Date.now() > deadline) throw new Error(`batch ${id} not there in ${timeoutMs} ms: ${JSON.stringify(last)}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

async function lines(fileId: string): Promise<OutputLine[]> {
  const text = await (await client.files.content(fileId)).text();
  return text
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => JSON.parse(l) as OutputLine);
}

describe('the Batch API', () => {
  let done: Batch;
  let inputFileId: string;

  test('a batch runs to completed: every answer valid, the unknown model in the error file', async () => {
    const ok = Array.from({ length: 20 }, (_, i) => chatLine(`ok-${i}`, `question ${i}`));
    const file = await upload(client, [...ok, chatLine('bad-model', 'who am I', 'no-such-model:1b')]);
    inputFileId = file.id;
    assert.equal(file.purpose, 'batch');
    assert.match(file.id, /^file-/);
    const created = await client.batches.create({ input_file_id: file.id, endpoint: '/v1/chat/completions', completion_window: '24h', metadata: { suite: 'e2e' } });
    assert.equal(created.object, 'batch');
    assert.ok(['validating', 'in_progress'].includes(created.status), created.status);
    assert.equal(created.input_file_id, file.id);

    done = await poll(created.id);
    assert.equal(done.status, 'completed', JSON.stringify(done));
    assert.deepEqual(done.request_counts, { total: 21, completed: 20, failed: 1 });
    assert.ok(done.completed_at && done.completed_at >= done.created_at);
    assert.deepEqual(done.metadata, { suite: 'e2e' });
    assert.ok(done.output_file_id && done.error_file_id);

    const out = await lines(done.output_file_id);
    assert.deepEqual(out.map((l) => l.custom_id).sort(), ok.map((_, i) => `ok-${i}`).sort());
    for (const l of out) {
      assert.equal(l.error, null);
      assert.equal(l.response?.status_code, 200);
      assertOpenAISchema('CreateChatCompletionResponse', l.response?.body);
    }
    const errors = await lines(done.error_file_id);
    assert.equal(errors.length, 1);
    assert.equal(errors[0].custom_id, 'bad-model');
    assert.equal(errors[0].response?.status_code, 404);
    assert.equal((errors[0].response?.body as { error: { code: string } }).error.code, 'model_not_found');
  });

  test('batches.list and files.list show them', async () => {
    const batches = [];
    for await (const b of client.batches.list({ limit: 2 })) batches.push(b.id);
    assert.ok(batches.includes(done.id));
    const files = [];
    for await (const f of client.files.list({ purpose: 'batch' })) files.push(f.id);
    assert.ok(files.includes(inputFileId));
  });

  test('another user sees none of it: 404 for the file, its content and the batch', async () => {
    const { key } = await admin(p).createKey();
    const other = new OpenAI({ baseURL: `${p.baseUrl}/v1`, apiKey: key, maxRetries: 0 });
    await assert.rejects(other.files.retrieve(inputFileId), NotFoundError);
    await assert.rejects(other.files.content(done.output_file_id!), NotFoundError);
    await assert.rejects(other.batches.retrieve(done.id), NotFoundError);
    await assert.rejects(other.batches.cancel(done.id), NotFoundError);
    const theirs = [];
    for await (const b of other.batches.list()) theirs.push(b.id);
    assert.deepEqual(theirs, []);
  });

  test('a malformed file fails validation, with line numbers', async () => {
    const batch = await submit(client, [chatLine('a', 'fine'), '{not json', JSON.stringify({ custom_id: 'b', method: 'POST', url: '/v1/images', body: {} }), chatLine('a', 'dup')]);
    const failed = await poll(batch.id);
    assert.equal(failed.status, 'failed', JSON.stringify(failed));
    const data = failed.errors?.data ?? [];
    const linesWithErrors = new Set(data.map((e) => e.line));
    for (const line of [2, 3, 4]) assert.ok(linesWithErrors.has(line), `line ${line} reported: ${JSON.stringify(data)}`);
    assert.ok(!linesWithErrors.has(1));
  });

  test('a running batch is cancelled', async () => {
    const big = await submit(client, Array.from({ length: 3000 }, (_, i) => chatLine(`big-${i}`, `long ${i}`, MODEL, 64)));
    await poll(big.id, (b) => b.status === 'in_progress' || TERMINAL.has(b.status));
    const cancelling = await client.batches.cancel(big.id);
    assert.ok(['cancelling', 'cancelled'].includes(cancelling.status), cancelling.status);
    const cancelled = await poll(big.id);
    assert.equal(cancelled.status, 'cancelled');
    assert.ok(cancelled.cancelled_at);
    assert.ok((cancelled.request_counts?.completed ?? 0) < 3000, 'stopped before the end');
  });

  test('a batch survives a restart of the batch service mid-run: every custom_id answered exactly once', async () => {
    const n = 300;
    const batch = await submit(client, Array.from({ length: n }, (_, i) => chatLine(`r-${i}`, `restart ${i}`, MODEL, 16)));
    const running = await poll(batch.id, (b) => (b.request_counts?.completed ?? 0) > 0 || TERMINAL.has(b.status));
    assert.equal(running.status, 'in_progress', 'killed mid-run');
    assert.ok((running.request_counts?.completed ?? 0) < n);
    const pid = p.pidOf('batch');
    assert.ok(pid, 'the launcher knows the batch service');
    process.kill(pid, 'SIGKILL');
    const deadline = Date.now() + 20_000;
    while (p.pidOf('batch') === pid || p.pidOf('batch') === undefined) {
      assert.ok(Date.now() < deadline, 'the launcher restarted the batch service');
      await new Promise((r) => setTimeout(r, 200));
    }
    const finished = await poll(batch.id, undefined, 60_000);
    assert.equal(finished.status, 'completed', JSON.stringify(finished));
    assert.deepEqual(finished.request_counts, { total: n, completed: n, failed: 0 });
    const out = await lines(finished.output_file_id!);
    const ids = out.map((l) => l.custom_id);
    assert.equal(ids.length, n, 'one answer per line');
    assert.equal(new Set(ids).size, n, 'no line answered twice');
    for (const l of out) assertOpenAISchema('CreateChatCompletionResponse', l.response?.body);
  });
});
