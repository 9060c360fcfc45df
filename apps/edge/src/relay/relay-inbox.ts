import type { RelayMessage } from '@switchyard/contracts';

/**
 * The relay messages of one request, in order, for whoever awaits them. Duplicates are dropped by
 * `seq`; a new `started` (the job re-run by BullMQ on another worker) restarts the sequence.
 */
export class RelayInbox {
  private readonly buffer: RelayMessage[] = [];
  private waiter: ((m: RelayMessage | undefined) => void) | undefined;
  private lastSeq = -Infinity;
  private closed = false;

  constructor(
    readonly requestId: string,
    private readonly onClose: (inbox: RelayInbox) => void = () => undefined,
  ) {}

  push(msg: RelayMessage): void {
    if (this.closed) return;
    if (msg.type === 'started') this.lastSeq = msg.seq;
    else if (msg.seq <= this.lastSeq) return;
    else this.lastSeq = msg.seq;
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
