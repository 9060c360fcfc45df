import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { BATCH_CALLER_HEADER } from '@switchyard/contracts';
import { assertOpenAISchema, deleteKeysWithPrefix, randomPrefix, TEST_REDIS_URL } from '@switchyard/testing';
import type { RunningBatchApp } from '../batch-app';
import { BatchClient, caller, chatLines, startTestBatch, tempDataDir, TEST_MODELS } from '../testing/test-batch';

describe('files API', () => {
  const prefix = randomPrefix('t-batch-files');
  const data = tempDataDir();
  let app: RunningBatchApp;
  let alice: BatchClient;
  let bob: BatchClient;

  before(async () => {
    app = await startTestBatch({ dataDir: data.dir, prefix, redisUrl: TEST_REDIS_URL });
    alice = new BatchClient(app.url, caller('alice'));
    bob = new BatchClient(app.url, caller('bob'));
  });

  after(async () => {
    await app?.close();
    await deleteKeysWithPrefix(prefix);
    data.cleanup();
  });

  test('upload, list, get, content, delete; another user sees a 404', async () => {
    const content = `${chatLines(3, TEST_MODELS.chat)}\n`;
    const up = await alice.upload(content);
    assert.equal(up.status, 200, JSON.stringify(up.body));
    assertOpenAISchema('OpenAIFile', up.body);
    assert.equal(up.body.purpose, 'batch');
    assert.equal(up.body.bytes, Buffer.byteLength(content));
    const id = String(up.body.id);

    const list = await alice.json('GET', '/v1/files?purpose=batch');
    assert.equal(list.status, 200);
    assert.deepEqual((list.body.data as Array<{ id: string }>).map((f) => f.id), [id]);
    assert.equal(list.body.has_more, false);

    const got = await alice.json('GET', `/v1/files/${id}`);
    assert.equal(got.status, 200);
    assert.equal(got.body.id, id);

    const body = await alice.content(id);
    assert.equal(body.status, 200);
    assert.equal(body.text, content);

    assert.equal((await bob.json('GET', `/v1/files/${id}`)).status, 404);
    assert.equal((await bob.content(id)).status, 404);
    assert.equal((await bob.json('DELETE', `/v1/files/${id}`)).status, 404);
    assert.deepEqual((await bob.json('GET', '/v1/files')).body.data, []);

    const del = await alice.json('DELETE', `/v1/files/${id}`);
    assert.deepEqual(del.body, { id, object: 'file', deleted: true });
    assert.equal((await alice.json('GET', `/v1/files/${id}`)).status, 404);
  });

  test('a file larger than one chunk round-trips byte for byte', async () => {
    const line = JSON.stringify({ custom_id: 'x', method: 'POST', url: '/v1/chat/completions', body: { model: TEST_MODELS.chat, messages: [{ role: 'user', content: 'y'.repeat(5000) }] } });
    const content = Array.from({ length: 500 }, () => line).join('\n');
    const up = await alice.upload(content);
    assert.equal(up.status, 200);
    const back = await alice.content(String(up.body.id));
    assert.equal(back.text.length, content.length);
    assert.equal(back.text, content);
  });

  test('over 50,000 lines is a 400 and nothing is kept', async () => {
    const before = (await alice.json('GET', '/v1/files')).body.data as unknown[];
    const up = await alice.upload('{}\n'.repeat(50_001));
    assert.equal(up.status, 400);
    assert.equal((up.body.error as { code: string }).code, 'too_many_lines');
    const after = (await alice.json('GET', '/v1/files')).body.data as unknown[];
    assert.equal(after.length, before.length);
  });

  test('a purpose other than batch is a 400', async () => {
    const up = await alice.upload('{}\n', 'fine-tune');
    assert.equal(up.status, 400);
    assert.equal((up.body.error as { param: string }).param, 'purpose');
  });

  test('/metrics exposes the batch metrics, every catalogue model at 0', async () => {
    const text = await (await fetch(`${app.url}/metrics`)).text();
    assert.match(text, /switchyard_batch_batches\{status="completed"\} 0/);
    assert.match(text, new RegExp(`switchyard_batch_lines_done_total\\{model="${TEST_MODELS.chat}"\\} 0`));
    assert.match(text, /switchyard_batch_lines_pending\{model=/);
    assert.match(text, /switchyard_batch_lines_failed_total\{model=/);
  });

  test('without the internal token or the caller: 401', async () => {
    const res = await fetch(`${app.url}/v1/files`, { headers: { [BATCH_CALLER_HEADER]: 'x' } });
    assert.equal(res.status, 401);
    const noCaller = await fetch(`${app.url}/v1/files`, { headers: { 'x-switchyard-internal-token': 'test-internal-token-0123456789' } });
    assert.equal(noCaller.status, 401);
    assertOpenAISchema('ErrorResponse', await noCaller.json());
  });
});
