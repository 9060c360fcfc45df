import type { RelayMessage } from '@switchyard/contracts';

/**
 * The relay messages of one request, in arrival order, for whoever awaits them. It only queues:
 * what a message means (which run it belongs to, whether one was lost) is `JobRun`'s business.
 */
export class RelayInbox {
  private readonly buffer: RelayMessage[] = [];
  private waiter: ((m: RelayMessage | undefined) => void) | undefined;
  private closed = false;

  constructor(
    readonly requestId: string,
    private readonly onClose: (inbox: RelayInbox) => void = () => undefined,
  ) {}

  push(msg: RelayMessage): void {
    if (this.closed) return;
    const w = this.waiter;
    if (w) {
      this.waiter = undefined;
      w(msg);
    } else this.buffer.push(msg);
  }

  /** The next message; `undefined` once closed or when `signal` fires first. */
  next(signal?: AbortSignal): Promise<RelayMessage | undefined> {
    const buffered = this.buffer.shift();
    if (buffered) return Promise.resolve(buffered);
    if (this.closed || signal?.aborted) return Promise.resolve(undefined);
    return new Promise((resolve) => {
      const onAbort = () => {
        this.waiter = undefined;
        resolve(undefined);
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      this.waiter = (m) => {
        signal?.removeEventListener('abort', onAbort);
        resolve(m);
      };
    });
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.buffer.length = 0;
    const w = this.waiter;
    this.waiter = undefined;
    w?.(undefined);
    this.onClose(this);
  }

  get isClosed(): boolean {
    return this.closed;
  }
}
