import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { OllamaClient } from './ollama.client';
import { OllamaAbortedError, OllamaConnectionError, OllamaHttpError } from './ollama.errors';

/** A throwaway HTTP server that answers like Ollama does, per path. */
async function fakeServer(handler: http.RequestListener): Promise<{ url: string; close(): Promise<void> }> {
  const server = http.createServer(handler);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}

function readBody(req: http.IncomingMessage): Promise<unknown> {
  return new Promise((resolve) => {
    let s = '';
    req.on('data', (c: Buffer) => (s += c.toString()));
    req.on('end', () => resolve(s ? JSON.parse(s) : undefined));
  });
}

const opts = { headersTimeoutMs: 5_000, bodyTimeoutMs: 5_000 };
const closers: Array<() => Promise<void>> = [];
after(async () => {
  for (const c of closers) await c();
});

test('streams NDJSON lines of /api/chat and sends the body as given', async () => {
  let received: unknown;
  const srv = await fakeServer(async (req, res) => {
    received = await readBody(req);
    res.writeHead(200, { 'content-type': 'application/x-ndjson' });
    res.write('{"model":"m","message":{"role":"assistant","content":"Hel"},"done":false}\n{"model":"m","message":{"role":"assistant","content":"lo"},');
    setTimeout(() => res.end('"done":false}\n{"model":"m","message":{"role":"assistant","content":""},"done":true,"done_reason":"stop","eval_count":2}\n'), 10);
  });
  closers.push(srv.close);
  const client = new OllamaClient(srv.url, opts);
  const lines = [];
  for await (const l of client.chat({ model: 'm', messages: [{ role: 'user', content: 'hi' }], options: { num_ctx: 8192 }, keep_alive: -1, stream: true, truncate: false, shift: false })) lines.push(l);
  assert.deepEqual(lines.map((l) => l.message?.content), ['Hel', 'lo', '']);
  assert.equal(lines[2].done_reason, 'stop');
  assert.deepEqual(received, { model: 'm', messages: [{ role: 'user', content: 'hi' }], options: { num_ctx: 8192 }, keep_alive: -1, stream: true, truncate: false, shift: false });
  await client.close();
});

test("an error status becomes OllamaHttpError with Ollama's message", async () => {
  const srv = await fakeServer((_req, res) => {
    res.writeHead(503, { 'content-type': 'application/json' });
    res.end('{"error":"server busy, please try again.  maximum pending requests exceeded"}');
  });
  closers.push(srv.close);
  const client = new OllamaClient(srv.url, opts);
  await assert.rejects(
    async () => {
      for await (const _ of client.generate({ model: 'm', prompt: 'x', options: { num_ctx: 1 }, keep_alive: -1, stream: true, truncate: false, shift: false })) void _;
    },
    (err: unknown) => err instanceof OllamaHttpError && err.status === 503 && err.message.includes('maximum pending requests'),
  );
  await client.close();
});

test('a refused connection is an OllamaConnectionError', async () => {
  const srv = await fakeServer((_req, res) => res.end());
  const url = srv.url;
  await srv.close();
  const client = new OllamaClient(url, opts);
  await assert.rejects(client.ps(), OllamaConnectionError);
  await assert.rejects(client.version(), OllamaConnectionError);
  await client.close();
});

test('aborting a stream closes the connection (Ollama frees the slot) and throws OllamaAbortedError', async () => {
  let serverSawClose: () => void = () => undefined;
  const closed = new Promise<void>((r) => (serverSawClose = r));
  const srv = await fakeServer((req, res) => {
    res.writeHead(200, { 'content-type': 'application/x-ndjson' });
    const t = setInterval(() => res.write('{"message":{"role":"assistant","content":"x"},"done":false}\n'), 5);
    res.on('close', () => {
      clearInterval(t);
      serverSawClose();
    });
  });
  closers.push(srv.close);
  const client = new OllamaClient(srv.url, opts);
  const controller = new AbortController();
  let n = 0;
  const started = Date.now();
  await assert.rejects(async () => {
    for await (const _ of client.chat({ model: 'm', messages: [], options: { num_ctx: 1 }, keep_alive: -1, stream: true, truncate: false, shift: false }, controller.signal)) {
      if (++n === 3) controller.abort('cancel');
    }
  }, OllamaAbortedError);
  await closed;
  assert.ok(Date.now() - started < 1_000);
  await client.close();
});

test('a connection that breaks mid-stream is an OllamaConnectionError', async () => {
  const srv = await fakeServer((req, res) => {
    res.writeHead(200, { 'content-type': 'application/x-ndjson' });
    res.write('{"message":{"role":"assistant","content":"x"},"done":false}\n');
    setTimeout(() => req.socket.destroy(), 20);
  });
  closers.push(srv.close);
  const client = new OllamaClient(srv.url, opts);
  const seen: string[] = [];
  await assert.rejects(async () => {
    for await (const l of client.chat({ model: 'm', messages: [], options: { num_ctx: 1 }, keep_alive: -1, stream: true, truncate: false, shift: false })) seen.push(l.message?.content ?? '');
  }, OllamaConnectionError);
  assert.deepEqual(seen, ['x']);
  await client.close();
});

test('preload sends keep_alive -1 and the fixed num_ctx; embedding models load through /api/embed; unload sends keep_alive 0', async () => {
  const requests: Array<{ path: string; body: unknown }> = [];
  const srv = await fakeServer(async (req, res) => {
    requests.push({ path: req.url ?? '', body: await readBody(req) });
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(req.url === '/api/embed' ? '{"model":"e","embeddings":[]}' : '{"model":"m","response":"","done":true,"done_reason":"load"}');
  });
  closers.push(srv.close);
  const client = new OllamaClient(srv.url, opts);
  await client.preload('llama3.1:8b', { numCtx: 8192, embedding: false });
  await client.preload('nomic-embed-text', { numCtx: 2048, embedding: true });
  await client.unload('llama3.1:8b');
  assert.deepEqual(requests, [
    { path: '/api/generate', body: { model: 'llama3.1:8b', keep_alive: -1, options: { num_ctx: 8192 }, stream: false } },
    { path: '/api/embed', body: { model: 'nomic-embed-text', input: [], keep_alive: -1, options: { num_ctx: 2048 } } },
    { path: '/api/generate', body: { model: 'llama3.1:8b', keep_alive: 0, stream: false } },
  ]);
  await client.close();
});

test('jobs one after another share one keep-alive connection to Ollama, even when the consumer stops at the done line', async () => {
  const sockets = new Set<unknown>();
  const srv = await fakeServer(async (req, res) => {
    sockets.add(req.socket);
    await readBody(req);
    res.writeHead(200, { 'content-type': 'application/x-ndjson' });
    res.write('{"model":"m","message":{"role":"assistant","content":"Hi"},"done":false}\n');
    // The done line, then the end of the body a moment later (as it may reach the client).
    res.write('{"model":"m","message":{"role":"assistant","content":""},"done":true,"done_reason":"stop","eval_count":1}\n');
    setTimeout(() => res.end(), 5);
  });
  closers.push(srv.close);
  const client = new OllamaClient(srv.url, opts);
  for (let i = 0; i < 3; i++) {
    const seen: string[] = [];
    for await (const l of client.chat({ model: 'm', messages: [], options: { num_ctx: 8192 }, keep_alive: -1, stream: true, truncate: false, shift: false })) {
      seen.push(l.done ? 'done' : (l.message?.content ?? ''));
      if (l.done) break;
    }
    assert.deepEqual(seen, ['Hi', 'done']);
    await new Promise((r) => setTimeout(r, 10)); // the connection goes back to the pool
  }
  assert.equal(sockets.size, 1);
  await client.close();
});
