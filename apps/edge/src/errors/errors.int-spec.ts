import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { Writable } from 'node:stream';
import OpenAI, { APIError } from 'openai';
import { assertOpenAISchema } from '@switchyard/testing';
import { ALL_KEY, startEdgeHarness, waitFor, type EdgeHarness } from '../testing/edge-harness';

const MB = 1024 * 1024;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface LogLine {
  level: number;
  msg?: string;
  requestId?: string;
  reason?: string;
}

describe('requests that go wrong on the wire', () => {
  let h: EdgeHarness;
  const logs: LogLine[] = [];

  before(async () => {
    const logDestination = new Writable({
      write(chunk: Buffer, _enc, cb) {
        for (const line of chunk.toString('utf8').split('\n')) if (line) logs.push(JSON.parse(line) as LogLine);
        cb();
      },
    });
    h = await startEdgeHarness({ env: { LOG_LEVEL: 'debug' }, logDestination });
  });
  after(async () => {
    await h.close();
  });

  test('a path that is not valid percent-encoding: 400 invalid_url in OpenAI shape, under /v1 and /api', async () => {
    for (const [method, path] of [
      ['GET', '/v1/models/%ff%fe'],
      ['GET', '/api/models/%ff%fe'],
      ['POST', '/v1/chat/completions%'],
      ['GET', '/v1/%zz?x=1'],
    ]) {
      const res = await fetch(`${h.url}${path}`, { method, headers: { authorization: `Bearer ${ALL_KEY}` } });
      assert.equal(res.status, 400, path);
      assert.match(res.headers.get('content-type') ?? '', /^application\/json/);
      assert.match(res.headers.get('x-request-id') ?? '', /^req_/);
      assert.equal(res.headers.get('x-should-retry'), 'false');
      const json = (await res.json()) as { error: { message: string; type: string; code: string } };
      assertOpenAISchema('ErrorResponse', json);
      assert.equal(json.error.type, 'invalid_request_error');
      assert.equal(json.error.code, 'invalid_url');
      assert.ok(json.error.message.includes(`${method} ${path.split('?')[0]}`), json.error.message);
    }
    const traced = await fetch(`${h.url}/v1/models/%ff`, { headers: { 'x-request-id': 'bad-url-trace-1' } });
    assert.equal(traced.headers.get('x-request-id'), 'bad-url-trace-1');
    assert.ok(logs.some((l) => l.requestId === 'bad-url-trace-1'));
    assert.match(await h.metrics(), /switchyard_edge_rejections_total\{reason="bad_request"\} [1-9]/);
  });

  test('a 30 MB body through the openai SDK: APIError 413 request_too_large, also over a slower link', async () => {
    const content = 'x'.repeat(30 * MB);
    const tooLarge = (err: unknown) => {
      assert.ok(err instanceof APIError, String(err));
      assert.equal(err.status, 413);
      assert.equal(err.code, 'request_too_large');
      assertOpenAISchema('ErrorResponse', { error: err.error });
      assert.equal(err.headers?.get('x-should-retry'), 'false');
      return true;
    };
    const ask = (client: OpenAI) => client.chat.completions.create({ model: 'llama3.1:8b', messages: [{ role: 'user', content }] });
    await assert.rejects(ask(h.client()), tooLarge);
    // The body in 1 MB pieces, as a network slower than loopback delivers it: answering before the
    // body is read resets the connection under fetch, which then reports a network error.
    const slow = new OpenAI({ apiKey: ALL_KEY, baseURL: `${h.url}/v1`, maxRetries: 0, fetch: piecewiseFetch(MB) });
    for (let i = 0; i < 3; i++) await assert.rejects(ask(slow), tooLarge);
  });

  test('a refused body is read to its end before the 413 (the connection stays usable); one declared past the cap is not', async () => {
    const body = Buffer.alloc(30 * MB, 'x');
    const conn = await RawConnection.open(h.url);
    conn.write(postHead(body.length));
    conn.write(body.subarray(0, 10 * MB));
    await sleep(200);
    assert.equal(conn.received(), '', 'answered before the body was read');
    conn.write(body.subarray(10 * MB));
    const refused = await conn.response();
    assert.match(refused.head, /^HTTP\/1\.1 413/);
    assert.equal(JSON.parse(refused.body).error.code, 'request_too_large');
    conn.write('GET /healthz HTTP/1.1\r\nhost: edge\r\n\r\n');
    assert.match((await conn.response()).head, /^HTTP\/1\.1 200/);
    conn.close();

    const absurd = await RawConnection.open(h.url);
    absurd.write(postHead(500 * MB));
    const answer = await absurd.response();
    assert.match(answer.head, /^HTTP\/1\.1 413/);
    assert.match(answer.head, /\r\nconnection: close\r\n/i);
    absurd.close();
  });

  test('clients that leave mid-stream or mid-upload are noted below warn, with the request id, never as errors', async () => {
    const ids = ['abort-stream-1', 'abort-upload-1', 'abort-reset-1'];
    const ctl = new AbortController();
    const stream = await h
      .client()
      .chat.completions.create({ model: 'llama3.1:8b', messages: [{ role: 'user', content: '[slow] hi' }], stream: true }, { signal: ctl.signal, headers: { 'x-request-id': ids[0] } });
    let chunks = 0;
    try {
      for await (const _ of stream) if (++chunks === 2) ctl.abort();
    } catch {
      // The SDK ends an aborted stream quietly or with an abort error: either is the client's doing.
    }
    assert.equal(chunks, 2);

    for (const [id, hangUp] of [
      [ids[1], (c: RawConnection) => c.close()],
      [ids[2], (c: RawConnection) => c.reset()],
    ] as const) {
      const conn = await RawConnection.open(h.url);
      conn.write(postHead(100_000, { 'x-request-id': id }));
      conn.write('{"model":"llama3.1:8b","messages":[');
      await sleep(100);
      hangUp(conn);
      await waitFor(() => logs.some((l) => l.requestId === id && l.msg === 'client went away mid-request'));
    }
    // The stream's job runs (and is cancelled) under an id the edge made.
    const cancelled = await waitFor(() => logs.find((l) => l.msg === 'job cancelled' && l.reason === 'client disconnected'));
    ids.push(cancelled?.requestId ?? '');
    await sleep(100);
    assert.deepEqual(
      logs.filter((l) => l.level >= 50),
      [],
    );
    assert.deepEqual(
      logs.filter((l) => l.level >= 40 && ids.includes(l.requestId ?? '')),
      [],
    );
  });
});

function postHead(length: number, headers: Record<string, string> = {}): string {
  const extra = Object.entries(headers).map(([k, v]) => `${k}: ${v}\r\n`);
  return `POST /v1/chat/completions HTTP/1.1\r\nhost: edge\r\nauthorization: Bearer ${ALL_KEY}\r\ncontent-type: application/json\r\ncontent-length: ${length}\r\n${extra.join('')}\r\n`;
}

/** `fetch` whose request body goes out in pieces of `size` bytes, one per macrotask. */
function piecewiseFetch(size: number): typeof fetch {
  return async (input, init) => {
    if (typeof init?.body !== 'string') return fetch(input, init);
    const bytes = Buffer.from(init.body);
    const body = new ReadableStream<Uint8Array>({
      async start(ctl) {
        for (let i = 0; i < bytes.length; i += size) {
          ctl.enqueue(bytes.subarray(i, i + size));
          await sleep(0);
        }
        ctl.close();
      },
    });
    const headers = new Headers(init.headers);
    headers.set('content-length', String(bytes.length));
    return fetch(input, { ...init, headers, body, duplex: 'half' } as RequestInit);
  };
}

/** One HTTP/1.1 connection driven by hand, to control when the body arrives. */
class RawConnection {
  private buffer = Buffer.alloc(0);
  private waiting: (() => void) | undefined;

  private constructor(private readonly socket: net.Socket) {
    socket.on('data', (chunk: Buffer) => {
      this.buffer = Buffer.concat([this.buffer, chunk]);
      this.waiting?.();
    });
    socket.on('error', () => undefined);
  }

  static async open(url: string): Promise<RawConnection> {
    const u = new URL(url);
    const socket = net.connect(Number(u.port), u.hostname);
    await new Promise((resolve, reject) => socket.once('connect', resolve).once('error', reject));
    return new RawConnection(socket);
  }

  write(data: string | Buffer): void {
    this.socket.write(data);
  }

  received(): string {
    return this.buffer.toString('latin1');
  }

  /** The next response (a `content-length` body), consumed from what was received. */
  async response(timeoutMs = 10_000): Promise<{ head: string; body: string }> {
    const until = Date.now() + timeoutMs;
    for (;;) {
      const text = this.received();
      const end = text.indexOf('\r\n\r\n');
      if (end >= 0) {
        const head = text.slice(0, end);
        const length = Number(/\r\ncontent-length: (\d+)/i.exec(head)?.[1] ?? 0);
        if (this.buffer.length >= end + 4 + length) {
          const body = this.buffer.subarray(end + 4, end + 4 + length).toString('utf8');
          this.buffer = this.buffer.subarray(end + 4 + length);
          return { head, body };
        }
      }
      if (Date.now() > until) throw new Error(`no complete response within ${timeoutMs} ms: ${text.slice(0, 200)}`);
      await new Promise<void>((resolve) => {
        this.waiting = resolve;
        setTimeout(resolve, 50);
      });
    }
  }

  close(): void {
    this.socket.destroy();
  }

  reset(): void {
    this.socket.resetAndDestroy();
  }
}
