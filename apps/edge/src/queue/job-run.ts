import { finalText, type InferenceJob, type RelayLost, type RelayMessage, type RelayRunMessage } from '@switchyard/contracts';
import type { JobPresence } from '@switchyard/redis';
import type { RelayInbox } from '../relay/relay-inbox';

type Started = Extract<RelayRunMessage, { type: 'started' }>;
type Chunk = Extract<RelayRunMessage, { type: 'chunk' }>;
type Final = Extract<RelayRunMessage, { type: 'final' }>;

/** An answer that ends in failure: the worker's own `error`, or one the edge decided (a run was lost). */
export interface RunFailure {
  type: 'error';
  status: number;
  code: string | null;
  message: string;
}

/** What a waiting handler gets next: the current run's messages, a failure, or the end of waiting. */
export type RunEvent = Started | Chunk | Final | RunFailure | { type: 'timeout' } | { type: 'cancelled' };


export interface JobRunHooks {
  /** Called for every message of the followed run before the handler sees it (metrics, estimators). */
  observe(job: InferenceJob, msg: RelayRunMessage): void;
  /** Takes the job back (queue removal + cancel message). */
  cancel(job: InferenceJob, reason: string): Promise<unknown>;
  /** Where the job is now. */
  presence(job: InferenceJob): Promise<JobPresence>;
  /** The run stopped listening (ended, cancelled, timed out). */
  ended(run: JobRun): void;
}

export const RunFailures = {
  /** A second run would continue an answer the client already partly has: never splice it in. */
  lostAfterContent: (): RunFailure => ({
    type: 'error',
    status: 503,
    code: 'worker_lost',
    message: 'The worker generating this answer was lost mid-answer, so the answer is incomplete. Please retry the request.',
  }),
  lostNotRequeued: (): RunFailure => ({
    type: 'error',
    status: 503,
    code: 'worker_lost',
    message: 'The worker running this request was lost and the request could not be run elsewhere. Please retry the request.',
  }),
  relayInterrupted: (): RunFailure => ({
    type: 'error',
    status: 503,
    code: 'relay_interrupted',
    message: 'The connection between the gateway and the worker was interrupted, so part of the answer was lost. Please retry the request.',
  }),
};

/**
 * One enqueued job as its HTTP handler sees it, with a deadline after which the job is cancelled,
 * and `cancel()` for a client that went away. Ends after `final` or an error.
 *
 * A job may run more than once (its worker was lost and the scheduler requeued it; BullMQ reran a
 * stalled job). The handler sees one run at a time and never two spliced together:
 * - a run's messages are taken in `seq` order; duplicates and messages of a superseded run are dropped;
 * - a new run, or a `lost` notice for the followed run, after text reached the handler ends the
 *   answer with `worker_lost` (a stream gets it in-band, without `[DONE]`) and takes the job back;
 *   before any text it is simply waited for: the client never notices;
 * - a non-stream job's chunks are held until its run's `final`, so for it a rerun is always invisible;
 * - a gap in `seq` (messages lost while the relay reconnected) ends the answer with
 *   `relay_interrupted`, as does a job that left the queue without its final reaching us (`resync`).
 */
export class JobRun {
  private readonly abort = new AbortController();
  private readonly timer: NodeJS.Timeout;
  private ended = false;
  private endReason: 'timeout' | 'cancelled' | undefined;
  /** The run being followed. */
  private run: { runId: string; workerId?: string; nextSeq: number } | undefined;
  private readonly supersededRuns = new Set<string>();
  /** Text or tool calls were handed on for the client: no other run may follow. */
  private delivered = false;
  /** Non-stream: the followed run's chunks, held until its final. */
  private held: Chunk[] = [];
  private readonly out: RunEvent[] = [];
  /** A failure was decided: nothing more is taken from the relay. */
  private failed = false;

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
    for (;;) {
      const ready = this.out.shift();
      if (ready) {
        if (ready.type === 'final' || ready.type === 'error') this.finish();
        return ready;
      }
      if (this.endReason) return { type: this.endReason };
      if (this.ended) return { type: 'cancelled' };
      const msg = await this.inbox.next(this.abort.signal);
      if (!msg) {
        if (this.out.length > 0) continue;
        return { type: this.endReason ?? 'cancelled' };
      }
      this.accept(msg);
    }
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
    this.hooks.ended(this);
  }

  /**
   * The relay was reconnected: messages may have been lost meanwhile. A job that is no longer in
   * its queue (finished, failed, or gone with an emptied Redis) will send nothing more: answer now.
   */
  async resync(): Promise<void> {
    if (this.ended || this.failed) return;
    const presence = await this.hooks.presence(this.job).catch(() => undefined);
    if (presence === 'gone' && !this.ended && !this.failed) this.fail(RunFailures.relayInterrupted());
  }

  private accept(msg: RelayMessage): void {
    if (this.failed || this.ended) return;
    if (msg.type === 'lost') return this.onLost(msg);
    if (this.supersededRuns.has(msg.runId)) return;
    if (this.run?.runId !== msg.runId) {
      if (this.run) this.supersededRuns.add(this.run.runId);
      this.held = [];
      this.run = undefined;
      if (this.delivered) return this.fail(RunFailures.lostAfterContent());
      this.run = { runId: msg.runId, nextSeq: 0 };
    }
    const run = this.run;
    if (msg.seq < run.nextSeq) return;
    // A lost `started` alone costs nothing (it carries no text); any other gap lost text.
    if (msg.seq > run.nextSeq && !(run.nextSeq === 0 && msg.seq === 1)) return this.fail(RunFailures.relayInterrupted());
    run.nextSeq = msg.seq + 1;
    if (msg.type === 'started' || msg.type === 'final') run.workerId = msg.workerId;
    this.hooks.observe(this.job, msg);
    switch (msg.type) {
      case 'started':
        this.out.push(msg);
        return;
      case 'chunk':
        if (!this.job.stream) this.held.push(msg);
        else {
          if (msg.content.length > 0 || (msg.toolCalls?.length ?? 0) > 0) this.delivered = true;
          this.out.push(msg);
        }
        return;
      case 'final': {
        // The run's last text (a non-stream run's whole answer) comes in the final, after its chunks.
        const tail = finalText(msg);
        this.out.push(...this.held, ...(tail ? [tail] : []), msg);
        this.held = [];
        return;
      }
      case 'error':
        this.held = [];
        this.out.push({ type: 'error', status: msg.status, code: msg.code, message: msg.message });
        return;
    }
  }

  private onLost(msg: RelayLost): void {
    if (!this.run) {
      // No message of a run yet (a non-stream run sends none before its final, and a lost worker may
      // not have sent `started`): the notice is about the run this job is waiting for. Requeued: the
      // next run will come; not requeued: nothing will, answer now instead of at the deadline.
      if (!msg.requeued && !this.delivered) this.fail(RunFailures.lostNotRequeued());
      return;
    }
    // Only the followed run's worker matters; a notice about an older run is stale.
    if (this.run.workerId !== msg.workerId) return;
    this.supersededRuns.add(this.run.runId);
    this.run = undefined;
    this.held = [];
    if (this.delivered) return this.fail(RunFailures.lostAfterContent());
    if (!msg.requeued) return this.fail(RunFailures.lostNotRequeued());
    // Requeued: another run will come, and the client never knows.
  }

  /** Ends the answer with `failure` after what was already handed on, and takes the job back. */
  private fail(failure: RunFailure): void {
    this.failed = true;
    this.out.push(failure);
    void this.hooks.cancel(this.job, failure.code ?? 'failed').catch(() => undefined);
    // Wake a handler waiting on the relay.
    this.inbox.close();
  }
}

/**
 * Waits for a job's `final` message, passing chunks to `onChunk`. Throws the failure (as the
 * status it asks for) or a timeout; resolves `undefined` when the client went away.
 */
export async function waitForFinal(
  run: JobRun,
  onChunk: (msg: Chunk) => void,
  onTimeout: () => Error,
  onError: (failure: RunFailure) => Error,
): Promise<Final | undefined> {
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
