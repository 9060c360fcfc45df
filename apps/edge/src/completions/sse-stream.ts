import type { OutgoingHttpHeaders, ServerResponse } from 'node:http';

/**
 * A Server-Sent Events response on the raw Node response (the Fastify reply is hijacked): headers
 * flushed at once, `data:` events, and a comment line whenever the stream has been silent for
 * `keepaliveMs` (the openai SDK and browsers ignore comments; proxies see traffic).
 */
export class SseStream {
  private timer: NodeJS.Timeout | undefined;
  private lastWrite = 0;
  private done = false;

  constructor(
    private readonly res: ServerResponse,
    private readonly keepaliveMs: number,
  ) {}

  open(headers: OutgoingHttpHeaders): void {
    this.res.writeHead(200, {
      ...headers,
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-cache',
      connection: 'keep-alive',
      'x-accel-buffering': 'no',
    });
    this.res.flushHeaders();
    this.res.socket?.setNoDelay(true);
    this.lastWrite = Date.now();
    const tick = Math.max(10, Math.floor(this.keepaliveMs / 2));
    this.timer = setInterval(() => {
      if (Date.now() - this.lastWrite >= this.keepaliveMs) this.write(': keep-alive\n\n');
    }, tick);
    this.timer.unref();
  }

  get closed(): boolean {
    return this.done || this.res.destroyed || this.res.writableEnded;
  }

  data(payload: object | string): void {
    this.write(`data: ${typeof payload === 'string' ? payload : JSON.stringify(payload)}\n\n`);
  }

  comment(text: string): void {
    this.write(`: ${text.replace(/[\r\n]+/g, ' ')}\n\n`);
  }

  end(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    if (this.done) return;
    this.done = true;
    if (!this.res.destroyed && !this.res.writableEnded) this.res.end();
  }

  private write(text: string): void {
    if (this.closed) return;
    this.lastWrite = Date.now();
    this.res.write(text);
  }
}
