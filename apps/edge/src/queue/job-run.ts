import type { InferenceJob, RelayMessage } from '@switchyard/contracts';
import type { RelayInbox } from '../relay/relay-inbox';

/** What a waiting handler gets next: a relay message, or the end of waiting. */
export type RunEvent = RelayMessage | { type: 'timeout' } | { type: 'cancelled' };

export interface JobRunHooks {
  /** Called for every relay message before the handler sees it (metrics, estimators). */
  observe(job: InferenceJob, msg: RelayMessage): void;
  /** Takes the job back (queue removal + cancel message). */
  cancel(job: InferenceJob, reason: string): Promise<unknown>;
}

/**
 * One enqueued job as its HTTP handler sees it: the relay messages in order, a deadline after which
 * the job is cancelled, and `cancel()` for a client that went away. Ends after `final` or `error`.
 */
export class JobRun {
  private readonly abort = new AbortController();
  private readonly timer: NodeJS.Timeout;
  private ended = false;
  private endReason: 'timeout' | 'cancelled' | undefined;

  constructor(
    readonly job: InferenceJob,
    private readonly inbox: RelayInbox,
    private readonly hooks: JobRunHooks,
    timeoutMs: number,
  ) {
    this.timer = setTimeout(() => void this.cancel('timeout'), timeoutMs);
    this.timer.unref();
  }

  get finished(): boolean {
    return this.ended;
  }

  async next(): Promise<RunEvent> {
    if (this.endReason) return { type: this.endReason };
    const msg = await this.inbox.next(this.abort.signal);
    if (!msg) return { type: this.endReason ?? 'cancelled' };
    this.hooks.observe(this.job, msg);
    if (msg.type === 'final' || msg.type === 'error') this.finish();
    return msg;
  }

  /** Cancels the job unless it already ended (client gone, or the deadline passed). */
  async cancel(reason: 'timeout' | 'client disconnected' | string): Promise<void> {
    if (this.ended) return;
    this.endReason = reason === 'timeout' ? 'timeout' : 'cancelled';
    this.finish();
    this.abort.abort();
    await this.hooks.cancel(this.job, reason).catch(() => undefined);
  }

  /** Stops listening (the job ended normally). */
  finish(): void {
    if (this.ended) return;
    this.ended = true;
    clearTimeout(this.timer);
    this.inbox.close();
  }
}

/**
 * Waits for a job's `final` message, passing chunks to `onChunk`. Throws the worker's error (as the
 * status it asks for) or a timeout; resolves `undefined` when the client went away.
 */
export async function waitForFinal(
  run: JobRun,
  onChunk: (msg: Extract<RelayMessage, { type: 'chunk' }>) => void,
  onTimeout: () => Error,
  onError: (msg: Extract<RelayMessage, { type: 'error' }>) => Error,
): Promise<Extract<RelayMessage, { type: 'final' }> | undefined> {
  for (;;) {
    const ev = await run.next();
    switch (ev.type) {
      case 'started':
        continue;
      case 'chunk':
        onChunk(ev);
        continue;
      case 'final':
        return ev;
      case 'error':
        throw onError(ev);
      case 'timeout':
        throw onTimeout();
      case 'cancelled':
        return undefined;
    }
  }
}
