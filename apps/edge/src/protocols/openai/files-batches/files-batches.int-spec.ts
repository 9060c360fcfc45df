import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { toFile } from 'openai';
import { decodeBatchCaller } from '@switchyard/contracts';
import { freePort } from '@switchyard/testing';
import { ALL_KEY, startEdgeHarness, type EdgeHarness } from '../../../testing/edge-harness';
import { routeLabel } from '../../../metrics/request-labels';

const TOKEN = 'test-internal-token-0123456789';

interface Seen {
  method: string;
  url: string;
  headers: IncomingMessage['headers'];
  bytes: number;
  body: string;
}

/** A stand-in for apps/batch: records each request, answers what the test says. */
class FakeBatchService {
  readonly seen: Seen[] = [];
  answer: (s: Seen) => { status: number; type: string; body: string | Buffer } = () => ({ status: 200, type: 'application/json', body: '{}' });
  private server?: Server;

  async start(): Promise<string> {
    this.server = createServer((req, res) => {
      let bytes = 0;
      const head: Buffer[] = [];
      req.on('data', (c: Buffer) => {
        if (bytes < 4096) head.push(c);
        bytes += c.length;
      });
      req.on('end', () => {
        const s: Seen = { method: req.method ?? '', url: req.url ?? '', headers: req.headers, bytes, body: Buffer.concat(head).toString('utf8') };
        this.seen.push(s);
        const a = this.answer(s);
        res.writeHead(a.status, { 'content-type': a.type });
        res.end(a.body);
      });
    });
    await new Promise<void>((r) => this.server!.listen(0, '127.0.0.1', r));
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  stop(): Promise<void> {
    return new Promise((r) => this.server?.close(() => r()) ?? r());
  }
}

describe('/v1/files and /v1/batches: relayed to the batch service', () => {
  const batch = new FakeBatchService();
  let h: EdgeHarness;
  before(async () => {
    h = await startEdgeHarness({ env: { BATCH_URL: await batch.start(), BATCH_INTERNAL_TOKEN: TOKEN } });
  });
  after(async () => {
    await h.close();
    await batch.stop();
  });

  test('an upload streams through with the internal headers, never the client key; the answer comes back unchanged', async () => {
    batch.answer = () => ({ status: 200, type: 'application/json', body: JSON.stringify({ id: 'file-abc', object: 'file', bytes: 3, created_at: 1, filename: 'in.jsonl', purpose: 'batch' }) });
    const file = await h.client().files.create({ file: await toFile(Buffer.from('{"a":1}\n'), 'in.jsonl'), purpose: 'batch' });
    assert.equal(file.id, 'file-abc');
    const s = batch.seen[batch.seen.length - 1];
    assert.equal(s.method, 'POST');
    assert.equal(s.url, '/v1/files');
    assert.match(String(s.headers['content-type']), /^multipart\/form-data; boundary=/);
    assert.match(s.body, /name="purpose"/);
    assert.equal(s.headers['x-switchyard-internal-token'], TOKEN);
    assert.equal(s.headers.authorization, undefined);
    const caller = decodeBatchCaller(String(s.headers['x-switchyard-caller']));
    assert.ok(caller, 'a caller the batch service can decode');
    assert.equal(caller.userId, 'user-1');
    assert.equal(caller.keyId, 'key-all');
    assert.match(String(s.headers['x-request-id']), /^req_/);
  });

  test('an upload larger than the edge\'s JSON body limit passes (streamed, not buffered)', async () => {
    batch.answer = () => ({ status: 200, type: 'application/json', body: '{"id":"file-big","object":"file"}' });
    const line = `${JSON.stringify({ custom_id: 'x', method: 'POST', url: '/v1/chat/completions', body: { model: 'm', messages: [{ role: 'user', content: 'y'.repeat(1000) }] } })}\n`;
    const big = Buffer.from(line.repeat(Math.ceil((12 * 1024 * 1024) / line.length)));
    const file = await h.client().files.create({ file: await toFile(big, 'big.jsonl'), purpose: 'batch' });
    assert.equal(file.id, 'file-big');
    assert.ok(batch.seen[batch.seen.length - 1].bytes > big.length);
  });

  test('/api/ maps to /v1/, query strings kept, JSON bodies and content passed both ways', async () => {
    batch.answer = (s) =>
      s.url.endsWith('/content') ? { status: 200, type: 'application/octet-stream', body: Buffer.from('line1\nline2\n') } : { status: 200, type: 'application/json', body: JSON.stringify({ echo: s.url, body: s.body }) };
    const list = await fetch(`${h.url}/api/files?purpose=batch&limit=2`, { headers: { authorization: `Bearer ${ALL_KEY}` } });
    assert.deepEqual(await list.json(), { echo: '/v1/files?purpose=batch&limit=2', body: '' });
    const created = await fetch(`${h.url}/v1/batches`, {
      method: 'POST',
      headers: { authorization: `Bearer ${ALL_KEY}`, 'content-type': 'application/json' },
      body: JSON.stringify({ input_file_id: 'file-abc', endpoint: '/v1/chat/completions', completion_window: '24h' }),
    });
    const echoed = (await created.json()) as { echo: string; body: string };
    assert.equal(echoed.echo, '/v1/batches');
    assert.deepEqual(JSON.parse(echoed.body), { input_file_id: 'file-abc', endpoint: '/v1/chat/completions', completion_window: '24h' });
    const content = await fetch(`${h.url}/v1/files/file-abc/content`, { headers: { authorization: `Bearer ${ALL_KEY}` } });
    assert.equal(content.headers.get('content-type'), 'application/octet-stream');
    assert.equal(await content.text(), 'line1\nline2\n');
    const cancelled = await fetch(`${h.url}/v1/batches/batch_1/cancel`, { method: 'POST', headers: { authorization: `Bearer ${ALL_KEY}` } });
    assert.equal(((await cancelled.json()) as { echo: string }).echo, '/v1/batches/batch_1/cancel');
    // As OpenAI's own curl example sends it: labelled JSON, no body.
    const curlStyle = await fetch(`${h.url}/v1/batches/batch_2/cancel`, { method: 'POST', headers: { authorization: `Bearer ${ALL_KEY}`, 'content-type': 'application/json' } });
    assert.equal(curlStyle.status, 200);
    assert.equal(((await curlStyle.json()) as { echo: string }).echo, '/v1/batches/batch_2/cancel');
    const deleted = await fetch(`${h.url}/v1/files/file-abc`, { method: 'DELETE', headers: { authorization: `Bearer ${ALL_KEY}` } });
    assert.equal(batch.seen[batch.seen.length - 1].method, 'DELETE');
    assert.equal(deleted.status, 200);
  });

  test("the batch service's errors come back as they are", async () => {
    const error = { error: { message: 'No such File object: file-x', type: 'invalid_request_error', param: 'id', code: null } };
    batch.answer = () => ({ status: 404, type: 'application/json', body: JSON.stringify(error) });
    const res = await fetch(`${h.url}/v1/files/file-x`, { headers: { authorization: `Bearer ${ALL_KEY}` } });
    assert.equal(res.status, 404);
    assert.deepEqual(await res.json(), error);
  });

  test('no key: 401 from the edge, nothing relayed', async () => {
    const before = batch.seen.length;
    const res = await fetch(`${h.url}/v1/batches`);
    assert.equal(res.status, 401);
    assert.equal(batch.seen.length, before);
  });

  test('multipart to any other route is still a 415', async () => {
    const form = new FormData();
    form.set('model', 'x');
    const res = await fetch(`${h.url}/v1/chat/completions`, { method: 'POST', headers: { authorization: `Bearer ${ALL_KEY}` }, body: form });
    assert.equal(res.status, 415, await res.text());
  });

  test('route labels are bounded', () => {
    assert.equal(routeLabel('/v1/files'), 'files');
    assert.equal(routeLabel('/api/files/file-1/content'), 'files/{id}');
    assert.equal(routeLabel('/v1/batches?limit=2'), 'batches');
    assert.equal(routeLabel('/v1/batches/b1/cancel'), 'batches/{id}');
  });
});

describe('a batch service that does not answer', () => {
  let h: EdgeHarness;
  before(async () => {
    h = await startEdgeHarness({ env: { BATCH_URL: `http://127.0.0.1:${await freePort()}`, BATCH_INTERNAL_TOKEN: TOKEN } });
  });
  after(() => h.close());

  test('503 batch_unavailable in OpenAI\'s shape, with Retry-After', async () => {
    const res = await fetch(`${h.url}/v1/batches`, { headers: { authorization: `Bearer ${ALL_KEY}` } });
    assert.equal(res.status, 503);
    assert.ok(Number(res.headers.get('retry-after')) > 0);
    const body = (await res.json()) as { error: { code: string; type: string } };
    assert.equal(body.error.code, 'batch_unavailable');
    const upload = new FormData();
    upload.set('purpose', 'batch');
    upload.set('file', new Blob(['{}\n']), 'a.jsonl');
    const up = await fetch(`${h.url}/v1/files`, { method: 'POST', headers: { authorization: `Bearer ${ALL_KEY}` }, body: upload });
    assert.equal(up.status, 503);
  });
});

describe('BATCH_URL=none', () => {
  let h: EdgeHarness;
  before(async () => {
    h = await startEdgeHarness({ env: { BATCH_URL: 'none' } });
  });
  after(() => h.close());

  test('the routes answer 404', async () => {
    const res = await fetch(`${h.url}/v1/files`, { headers: { authorization: `Bearer ${ALL_KEY}` } });
    assert.equal(res.status, 404);
  });
});
