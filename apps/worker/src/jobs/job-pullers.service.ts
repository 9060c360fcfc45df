import { Inject, Injectable } from '@nestjs/common';
import { type Job, UnrecoverableError, WaitingError, Worker } from 'bullmq';
import type { Redis } from 'ioredis';
import { INFERENCE_JOB_NAME, Queues } from '@switchyard/contracts';
import { ROOT_LOGGER, type Logger } from '@switchyard/observability';
import { WORKER_CONFIG, type WorkerConfig } from '../config/worker.config';
import { OllamaHealth } from '../ollama/ollama-health.service';
import { REDIS_BULL } from '../redis/redis.tokens';
import { InferenceProcessor, type InferenceResult, type ModelRun } from './inference.processor';

type JobName = typeof INFERENCE_JOB_NAME;
type Handler = (job: Job, run: ModelRun) => Promise<InferenceResult>;

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
    @Inject(REDIS_BULL) private readonly connection: Redis,
    processor: InferenceProcessor,
    @Inject(OllamaHealth) private readonly health: Pick<OllamaHealth, 'isDown'>,
    @Inject(ROOT_LOGGER) logger: Logger,
  ) {
    this.log = logger.child({ context: JobPullers.name });
    // Every job name an edge may enqueue has a handler, or this does not compile.
    this.handlers = { [INFERENCE_JOB_NAME]: (job, run) => processor.process(job, run) };
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
      removeOnComplete: { age: 3600, count: 1000 },
      removeOnFail: { age: 24 * 3600, count: 5000 },
    });
    worker.on('error', (err) => this.log.error({ err: err.message, model: run.model }, 'BullMQ worker error'));
    worker.on('failed', (job, err) => {
      if (job) this.log.debug({ requestId: job.id, model: run.model, err: err.message, attemptsMade: job.attemptsMade }, 'job failed');
    });
    this.pullers.set(run.model, { run, worker });
    this.log.info({ model: run.model, queue: queueName, concurrency: this.config.WORKER_SLOTS, numCtx: run.numCtx }, 'pulling queue');
  }

  /** Stops pulling the model's queue and waits for its jobs in flight to finish. */
  async stop(model: string, opts: { timeoutMs?: number } = {}): Promise<void> {
    const puller = this.pullers.get(model);
    if (!puller) {
      await this.closing.get(model);
      return;
    }
    this.pullers.delete(model);
    const closed = closeWorker(puller.worker, opts.timeoutMs, this.log).finally(() => this.closing.delete(model));
    this.closing.set(model, closed);
    this.log.info({ model }, 'stopped pulling queue; waiting for jobs in flight');
    await closed;
  }

  /** Shutdown: stop every puller, waiting (bounded) for their jobs in flight. */
  async closeAll(timeoutMs: number): Promise<void> {
    this.shutDown = true;
    await Promise.all([...this.pullers.keys()].map((m) => this.stop(m, { timeoutMs })));
    await Promise.all([...this.closing.values()]);
  }

  private async dispatch(job: Job, run: ModelRun, token: string | undefined): Promise<InferenceResult> {
    if (this.health.isDown && token) {
      // Fetched just as Ollama went down (a blocking fetch in flight is not stopped by a pause):
      // put it back, without spending an attempt, for another worker to take.
      await job.moveToWait(token);
      throw new WaitingError();
    }
    const name = job.name as JobName;
    const handler = Object.hasOwn(this.handlers, name) ? this.handlers[name] : undefined;
    if (!handler) throw new UnrecoverableError(`no handler for job name ${job.name}`);
    return handler(job, run);
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

/** Closes a Worker, waiting for its jobs in flight; past `timeoutMs` it stops waiting (their locks expire and they rerun elsewhere). */
async function closeWorker(worker: Worker, timeoutMs: number | undefined, log: Logger): Promise<void> {
  const closed = worker.close();
  if (timeoutMs === undefined) return closed;
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<'timeout'>((r) => (timer = setTimeout(() => r('timeout'), timeoutMs)));
  const result = await Promise.race([closed.then(() => 'closed' as const), timedOut]);
  if (timer) clearTimeout(timer);
  if (result === 'timeout') log.warn({ queue: worker.name, timeoutMs }, 'jobs still in flight after the drain timeout: not waiting longer (they will be rerun)');
}
