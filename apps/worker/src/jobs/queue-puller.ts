import { type Job, LockManager, Worker, type WorkerOptions } from 'bullmq';
import type { Redis } from 'ioredis';

export type JobProcessor = (job: Job, token: string | undefined) => Promise<unknown>;

export interface QueuePullerOptions extends Pick<WorkerOptions, 'prefix' | 'name' | 'lockDuration' | 'maxStalledCount'> {
  connection: Redis;
  /** Jobs run at once (Ollama's parallel slots for the model). */
  slots: number;
  lockDuration: number;
}

/**
 * Pulls one BullMQ queue with up to `slots` jobs at once, by BullMQ's manual fetching
 * (`Worker.getNextJob`, `Worker.processJob`) instead of the Worker's own loop, to spend fewer
 * Redis round trips per job. BullMQ's take of a job (`moveToActive`) always sets the queue's marker
 * for the other workers, so its loop, once it has a job, looks again at once (finds nothing), then
 * blocks on the marker (returns at once, on the marker its own take set) and looks a third time,
 * before it even starts the job — three round trips per job while its Ollama call runs. Here the job
 * starts first, and the next look consumes the marker and looks once, in one round trip (the marker
 * is only a hint that jobs may wait; a look right after taking it sees every job it hinted at), and a
 * miss then blocks on the marker for real. When every slot is busy, a finishing job takes the next
 * one in its own completion (BullMQ's fetch-next), as the Worker's loop does.
 *
 * What the Worker's loop gave is kept: BullMQ's stalled-job checker, lock renewal (BullMQ's
 * LockManager, started here), completion and failure with BullMQ's retries of them across a Redis
 * outage (`processJob`), and a stop that ends the wait for jobs and lets the jobs in flight finish.
 */
export class QueuePuller {
  readonly worker: Worker;
  private readonly connection: Redis;
  private readonly locks: LockManager;
  private readonly slots: number;
  private readonly inFlight = new Set<Promise<void>>();
  private loop: Promise<void> | undefined;
  private stopping = false;
  private paused: boolean;
  /** True while the loop waits for a slot: a finishing job then takes the next one in its completion. */
  private full = false;
  private wake: (() => void) | undefined;
  private tokens = 0;
  private closed: Promise<void> | undefined;

  constructor(queueName: string, process: JobProcessor, opts: QueuePullerOptions & { paused: boolean }) {
    const { slots, paused, ...workerOpts } = opts;
    this.slots = slots;
    this.paused = paused;
    // A job's lock stops being renewed once its processor returns, before BullMQ completes it (as in the Worker's loop).
    const processor = (job: Job, token?: string) => process(job, token).finally(() => job.id && this.locks.untrackJob(job.id));
    this.connection = opts.connection;
    const worker = (this.worker = new Worker(queueName, processor, { ...workerOpts, concurrency: slots, autorun: false }));
    // The Worker's own lock manager only runs under its own loop; this one renews the locks of the jobs run here.
    const lockContext = {
      name: worker.name,
      emit: (event: string | symbol, ...args: unknown[]): boolean => Reflect.apply(worker.emit, worker, [event, ...args]),
      trace: <T>(_kind: unknown, _op: string, _dest: string, callback: () => Promise<T> | T) => callback(),
      extendJobLocks: (ids: string[], tokens: string[], duration: number) => worker.extendJobLocks(ids, tokens, duration),
    };
    this.locks = new LockManager(lockContext, { lockDuration: opts.lockDuration, lockRenewTime: opts.lockDuration / 2, workerId: worker.id, workerName: opts.name });
    if (!paused) this.start();
  }

  /** Stops taking new jobs; jobs in flight go on. */
  pause(): void {
    this.paused = true;
    this.wakeLoop();
  }

  resume(): void {
    if (!this.paused || this.stopping) return;
    this.paused = false;
    this.start();
  }

  /** Stops taking jobs, waits for the jobs in flight, then closes the Worker. */
  close(): Promise<void> {
    this.closed ??= (async () => {
      this.stopping = true;
      this.wakeLoop();
      // End a wait for jobs in flight, as the Worker's own close does before it waits for its jobs.
      await this.worker
        .waitUntilReady()
        .then((blocking) => blocking.disconnect())
        .catch(() => undefined);
      await this.loop;
      while (this.inFlight.size > 0) await Promise.allSettled([...this.inFlight]);
      await this.locks.close();
      await this.worker.close();
    })();
    return this.closed;
  }

  private start(): void {
    if (this.loop) return;
    this.locks.start();
    void this.worker.startStalledCheckTimer().catch((err: unknown) => this.worker.emit('error', err as Error));
    this.loop = this.pull()
      .catch((err: unknown) => void this.worker.emit('error', err as Error))
      .finally(() => (this.loop = undefined));
  }

  private async pull(): Promise<void> {
    let tookLast = false;
    while (!this.stopping && !this.paused) {
      if (this.inFlight.size >= this.slots) {
        this.full = true;
        await this.sleep();
        this.full = false;
        continue;
      }
      const token = `${this.worker.id}:${this.tokens++}`;
      let job: Job | undefined;
      try {
        if (tookLast) {
          // The job just taken goes first: its request reaches Ollama before these writes reach Redis.
          await new Promise<void>((r) => setImmediate(r));
          // Sent before the look, on the same connection: Redis runs them in this order.
          const marker = this.connection.zpopmin(this.worker.keys.marker);
          job = await this.worker.getNextJob(token, { block: false });
          await marker;
        } else {
          job = await this.worker.getNextJob(token, { block: true });
        }
      } catch (err) {
        this.worker.emit('error', err as Error);
        await this.sleep(this.worker.opts.runRetryDelay);
        tookLast = false;
        continue;
      }
      tookLast = job !== undefined;
      if (job) this.run(job, token);
    }
  }

  /** Runs a job in a slot, then the jobs its completions take, until one takes none. */
  private run(first: Job, token: string): void {
    const running = (async () => {
      let job: Job | void = first;
      while (job) {
        const id = job.id;
        if (id) this.locks.trackJob(id, token, job.processedOn ?? Date.now());
        try {
          job = await this.worker.processJob(job, token, () => this.full && !this.stopping && !this.paused);
        } finally {
          if (id) this.locks.untrackJob(id);
        }
      }
    })()
      .catch((err: unknown) => void this.worker.emit('error', err as Error))
      .finally(() => {
        this.inFlight.delete(running);
        this.wakeLoop();
      });
    this.inFlight.add(running);
  }

  /** Until `wakeLoop` (a slot freed, a pause, the stop), or `ms` if given. */
  private async sleep(ms?: number): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    await new Promise<void>((r) => {
      this.wake = r;
      if (ms !== undefined) timer = setTimeout(r, ms);
    });
    clearTimeout(timer);
  }

  private wakeLoop(): void {
    const wake = this.wake;
    this.wake = undefined;
    wake?.();
  }
}
