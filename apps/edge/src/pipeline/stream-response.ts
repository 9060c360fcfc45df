import type { OutgoingHttpHeaders, ServerResponse } from 'node:http';

/**
 * A streamed response on the raw Node response (the Fastify reply is hijacked): headers flushed at
 * once, then whatever text the protocol writes (SSE events, NDJSON lines), and `keepAlive` whenever
 * the stream has been silent for `keepaliveMs` (an SSE comment, Anthropic's `ping`; clients ignore
 * it, proxies see traffic). No keep-alive text: nothing is written while waiting.
 */
export class StreamResponse {
  private timer: NodeJS.Timeout | undefined;
  private lastWrite = 0;
  private done = false;

  constructor(
    private readonly res: ServerResponse,
    private readonly keepaliveMs: number,
    private readonly keepAlive: string | undefined,
  ) {}

  open(contentType: string, headers: OutgoingHttpHeaders): void {
    this.res.writeHead(200, {
      ...headers,
      'content-type': contentType,
      'cache-control': 'no-cache',
      connection: 'keep-alive',
      'x-accel-buffering': 'no',
    });
    this.res.flushHeaders();
    this.res.socket?.setNoDelay(true);
    this.lastWrite = Date.now();
    if (!this.keepAlive) return;
    const text = this.keepAlive;
    const tick = Math.max(10, Math.floor(this.keepaliveMs / 2));
    this.timer = setInterval(() => {
      if (Date.now() - this.lastWrite >= this.keepaliveMs) this.write(text);
    }, tick);
    this.timer.unref();
  }

  get closed(): boolean {
    return this.done || this.res.destroyed || this.res.writableEnded;
  }

  write(text: string): void {
    if (this.closed || text.length === 0) return;
    this.lastWrite = Date.now();
    this.res.write(text);
  }

  end(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    if (this.done) return;
    this.done = true;
    if (!this.res.destroyed && !this.res.writableEnded) this.res.end();
  }
}
