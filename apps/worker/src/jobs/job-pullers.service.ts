import { Inject, Injectable } from '@nestjs/common';
import { type Job, UnrecoverableError, WaitingError, Worker } from 'bullmq';
import type { Redis } from 'ioredis';
import { INFERENCE_JOB_NAME, Queues } from '@switchyard/contracts';
import { ROOT_LOGGER, type Logger } from '@switchyard/observability';
import { WORKER_CONFIG, type WorkerConfig } from '../config/worker.config';
import { OllamaHealth } from '../ollama/ollama-health.service';
import { REDIS_BLOCKING, requeueJob } from '@switchyard/redis';
import { InferenceProcessor, type InferenceResult, type ModelRun, RequeueJob } from './inference.processor';

type JobName = typeof INFERENCE_JOB_NAME;
type Handler = (job: Job, run: ModelRun, token: string | undefined) => Promise<InferenceResult>;

/** After the drain timeout aborted the jobs still running, how long they get to settle (relay, requeue). */
const ABORTED_SETTLE_MS = 5_000;

interface Puller {
  run: ModelRun;
  worker: Worker;
}

/**
 * One BullMQ Worker per resident model, on that model's `(pool, model)` queue, with
 * concurrency = WORKER_SLOTS (BullMQ hands out the highest priority first). Stopping a puller
 * closes its Worker, which waits for the jobs in flight. While Ollama is down every puller is
 * paused (jobs in flight go on) until residency resumes them.
 */
@Injectable()
export class JobPullers {
  private readonly pullers = new Map<string, Puller>();
  private readonly closing = new Map<string, Promise<void>>();
  private readonly handlers: Record<JobName, Handler>;
  private paused = false;
  private shutDown = false;
  private readonly log: Logger;

  constructor(
    @Inject(WORKER_CONFIG)
    private readonly config: Pick<WorkerConfig, 'WORKER_POOL' | 'WORKER_SLOTS' | 'SWITCHYARD_PREFIX' | 'WORKER_LOCK_DURATION_MS' | 'WORKER_ID'>,
    @Inject(REDIS_BLOCKING) private readonly connection: Redis,
    processor: InferenceProcessor,
    @Inject(OllamaHealth) private readonly health: Pick<OllamaHealth, 'isDown'>,
    @Inject(ROOT_LOGGER) logger: Logger,
  ) {
    this.log = logger.child({ context: JobPullers.name });
    // Every job name an edge may enqueue has a handler, or this does not compile.
    this.handlers = { [INFERENCE_JOB_NAME]: (job, run, token) => processor.process(job, run, token) };
  }

  get isPaused(): boolean {
    return this.paused;
  }

  isPulling(model: string): boolean {
    return this.pullers.has(model);
  }

  models(): string[] {
    return [...this.pullers.keys()];
  }

  /** Starts pulling the model's queue (idempotent). Waits for a previous puller of the model to close first. */
  async start(run: ModelRun): Promise<void> {
    if (this.shutDown) throw new Error('worker is shutting down');
    const previous = this.closing.get(run.model);
    if (previous) await previous;
    if (this.pullers.has(run.model)) return;
    const queueName = Queues.inference(this.config.WORKER_POOL, run.model);
    const worker = new Worker(queueName, (job: Job, token?: string) => this.dispatch(job, run, token), {
      connection: this.connection,
      prefix: Queues.bullPrefix(this.config.SWITCHYARD_PREFIX),
      name: this.config.WORKER_ID,
      concurrency: this.config.WORKER_SLOTS,
      lockDuration: this.config.WORKER_LOCK_DURATION_MS,
      maxStalledCount: 1,
      autorun: !this.paused,
      // No removeOnComplete/removeOnFail here: the edge sets them on every job, and a job's own options win over the Worker's.
    });
    worker.on('error', (err) => this.log.error({ err: err.message, model: run.model }, 'BullMQ worker error'));
    worker.on('failed', (job, err) => {
      if (job) this.log.debug({ requestId: job.id, model: run.model, err: err.message, attemptsMade: job.attemptsMade }, 'job failed');
    });
    this.pullers.set(run.model, { run, worker });
    this.log.info({ model: run.model, queue: queueName, concurrency: this.config.WORKER_SLOTS, numCtx: run.numCtx }, 'pulling queue');
  }

  /** Stops pulling the model's queue and waits for its jobs in flight to finish. */
  async stop(model: string): Promise<void> {
    const puller = this.pullers.get(model);
    if (puller) {
      this.pullers.delete(model);
      this.closing.set(model, puller.worker.close().finally(() => this.closing.delete(model)));
      this.log.info({ model }, 'stopped pulling queue; waiting for jobs in flight');
    }
    await this.closing.get(model);
  }

  /**
   * Shutdown: stops every puller and waits for the jobs in flight. Past `timeoutMs`, `onTimeout`
   * aborts the jobs still running, which then get ABORTED_SETTLE_MS to settle (relay their end or go
   * back to the queue); past that it stops waiting (their locks expire and they rerun elsewhere).
   * Resolves with whether the jobs in flight finished within `timeoutMs`.
   */
  async closeAll(timeoutMs: number, onTimeout: () => void): Promise<boolean> {
    this.shutDown = true;
    const stopping = [...this.pullers.keys()].map((m) => this.stop(m));
    const closed = Promise.all([...stopping, ...this.closing.values()]);
    if (await settlesWithin(closed, timeoutMs)) return true;
    onTimeout();
    if (!(await settlesWithin(closed, ABORTED_SETTLE_MS))) this.log.warn({ settleMs: ABORTED_SETTLE_MS }, 'aborted jobs did not settle: not waiting longer (they will be rerun)');
    return false;
  }

  private async dispatch(job: Job, run: ModelRun, token: string | undefined): Promise<InferenceResult> {
    if (this.health.isDown && token) {
      // Fetched just as Ollama went down (a blocking fetch in flight is not stopped by a pause):
      // put it back, without spending an attempt, for another worker to take.
      await requeueJob(job, token, this.connection);
      throw new WaitingError();
    }
    const name = job.name as JobName;
    const handler = Object.hasOwn(this.handlers, name) ? this.handlers[name] : undefined;
    if (!handler) throw new UnrecoverableError(`no handler for job name ${job.name}`);
    try {
      return await handler(job, run, token);
    } catch (err) {
      if (!(err instanceof RequeueJob) || !token) throw err;
      await requeueJob(job, token, this.connection);
      throw new WaitingError();
    }
  }

  /** Ollama is down: no puller fetches new jobs (jobs in flight go on). */
  pauseAll(): void {
    if (this.paused) return;
    this.paused = true;
    for (const { worker } of this.pullers.values()) void worker.pause(true).catch(() => undefined);
  }

  /** Ollama answers again. */
  resumeAll(): void {
    if (!this.paused) return;
    this.paused = false;
    // resume() also starts a Worker created paused (autorun false).
    for (const { worker } of this.pullers.values()) worker.resume();
  }
}

/** True when `promise` settles within `ms` (its rejection passes through). */
async function settlesWithin(promise: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<false>((r) => (timer = setTimeout(() => r(false), ms)));
  try {
    return await Promise.race([promise.then(() => true), timedOut]);
  } finally {
    clearTimeout(timer);
  }
}
