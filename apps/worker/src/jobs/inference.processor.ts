import { Inject, Injectable } from '@nestjs/common';
import { type Job, UnrecoverableError } from 'bullmq';
import { type InferenceJob, inferenceJobSchema, type UsageTimings } from '@switchyard/contracts';
import { ROOT_LOGGER, runWithRequestId, type Logger } from '@switchyard/observability';
import { ModelCatalogue } from '../config/model-catalogue';
import { type JobOutcome, WorkerMetrics } from '../metrics/worker.metrics';
import { OLLAMA_CLIENT, type OllamaApi } from '../ollama/ollama.client';
import { OllamaConnectionError, OllamaHttpError, OllamaStreamError, isContextLengthMessage } from '../ollama/ollama.errors';
import { OllamaHealth } from '../ollama/ollama-health.service';
import type { OllamaMetrics, OllamaRunnerOptions, OllamaStreamLine } from '../ollama/ollama.schema';
import { RelayPublisher, type RelayStream } from '../relay/relay.publisher';
import { UsageRecorder } from '../usage/usage.client';
import { abortedByShutdown, RunningJobs } from './running-jobs.registry';

/** Thrown by a handler for a job that must go back to its queue, unspent, for another worker (JobPullers puts it back). */
export class RequeueJob extends Error {
  constructor(reason: string) {
    super(reason);
    this.name = 'RequeueJob';
  }
}

/** A prompt that does not fit the fixed context window is refused (400), never truncated or shifted. */
const NO_TRUNCATION = { truncate: false, shift: false } as const;

/** The model a BullMQ worker pulls for, with the fixed context window it was loaded with. */
export interface ModelRun {
  model: string;
  numCtx: number;
}

export interface InferenceResult {
  outcome: JobOutcome;
  completionTokens: number;
}

/** Parses a job's data with the contract's schema; bad data can never succeed, so it is not retried. */
export function parseInferenceJob(job: Pick<Job, 'id' | 'data'>): InferenceJob {
  const parsed = inferenceJobSchema.safeParse(job.data);
  if (!parsed.success) throw new UnrecoverableError(`job ${job.id} has invalid data: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`);
  return parsed.data;
}

/** True when BullMQ will not try this job again after a failure now. */
export function isLastAttempt(job: Pick<Job, 'attemptsMade' | 'opts'>): boolean {
  return job.attemptsMade + 1 >= (job.opts.attempts ?? 1);
}

interface Progress {
  /** performance.now() when the job started here. */
  startedAt: number;
  queueMs: number;
  /** Stream lines that carried text or tool calls (≈ tokens). */
  tokens: number;
  firstTokenAt?: number;
}

interface Rejection {
  status: number;
  code: string | null;
  message: string;
}

type HealthReporter = Pick<OllamaHealth, 'reportFailure' | 'reportSuccess'>;

/**
 * Runs one inference job: turns it into an Ollama call (/api/chat, /api/generate with `suffix`,
 * /api/embed) with the model's fixed num_ctx and keep_alive -1, relays the NDJSON stream to the
 * edge (coalesced chunks, then a final with usage and timings), records usage, and decides what a
 * failure means:
 * - cancelled (abort): the job completes quietly, nothing more is relayed;
 * - before the first token, Ollama 5xx / unreachable: the job throws and BullMQ retries it (a 503
 *   `error` is relayed on the last attempt so the edge never hangs);
 * - Ollama 4xx: an `error` is relayed and the job fails without retry;
 * - after the first token: an in-band `error` is relayed and the job fails without retry;
 * - aborted by the worker's shutdown (drain timeout): as for a lost worker, see `interrupted`.
 */
@Injectable()
export class InferenceProcessor {
  private readonly log: Logger;

  constructor(
    @Inject(OLLAMA_CLIENT) private readonly ollama: OllamaApi,
    @Inject(OllamaHealth) private readonly health: HealthReporter,
    private readonly relay: RelayPublisher,
    private readonly usage: UsageRecorder,
    private readonly running: RunningJobs,
    private readonly metrics: WorkerMetrics,
    @Inject(ROOT_LOGGER) logger: Logger,
  ) {
    this.log = logger.child({ context: InferenceProcessor.name });
  }

  /** `token` is the job's lock token (BullMQ's second argument to a processor), needed to put the job back. */
  async process(job: Job, run: ModelRun, token?: string): Promise<InferenceResult> {
    const data = parseInferenceJob(job);
    if (!ModelCatalogue.same(data.model, run.model)) {
      throw new UnrecoverableError(`job ${data.requestId} is for ${data.model} but sits on the queue of ${run.model}`);
    }
    return runWithRequestId(data.requestId, async () => {
      const controller = this.running.start(data.requestId, run.model);
      if (!controller) {
        this.log.info({ model: run.model }, 'job was cancelled before it started');
        this.metrics.jobs.inc({ model: run.model, outcome: 'cancelled' });
        return { outcome: 'cancelled', completionTokens: 0 };
      }
      try {
        return await this.run(job, data, run, controller.signal, token);
      } finally {
        this.running.finish(data.requestId, controller);
      }
    });
  }

  private async run(job: Job, data: InferenceJob, run: ModelRun, signal: AbortSignal, token: string | undefined): Promise<InferenceResult> {
    const relay = this.relay.open(data, data.stream ? undefined : { coalesceMs: Infinity });
    const progress: Progress = { startedAt: performance.now(), queueMs: Math.max(0, Date.now() - data.createdAt), tokens: 0 };
    // A stream's edge learns at once that its job runs; a non-stream edge needs nothing before the final,
    // which carries the queue wait and the service time (one publish, and one wake-up of the edge, fewer).
    if (data.stream) relay.started(progress.queueMs);
    if (data.numCtx !== run.numCtx) this.log.warn({ model: run.model, jobNumCtx: data.numCtx, numCtx: run.numCtx }, "job's num_ctx differs from the loaded model's: using the model's");
    try {
      const result = data.work.kind === 'embed' ? await this.embed(data, run, signal, relay, progress) : await this.generate(data, run, signal, relay, progress);
      this.health.reportSuccess();
      return result;
    } catch (err) {
      if (abortedByShutdown(signal)) return await this.interrupted(job, token, data, run, relay, progress);
      return this.fail(err, job, data, run, signal, relay, progress);
    } finally {
      await relay.drained();
    }
  }

  private async generate(data: InferenceJob, run: ModelRun, signal: AbortSignal, relay: RelayStream, progress: Progress): Promise<InferenceResult> {
    const work = data.work;
    if (work.kind === 'embed') throw new Error('unreachable');
    const options: OllamaRunnerOptions = { ...work.options, num_ctx: run.numCtx };
    // A non-stream job's edge waits for the whole answer, so Ollama is asked for it whole too: one
    // response instead of a line per token (and a wake-up of this worker for each).
    const stream = data.stream;
    const lines =
      work.kind === 'chat'
        ? this.ollama.chat({ model: run.model, messages: work.messages, tools: work.tools, format: work.format, options, keep_alive: -1, stream, ...NO_TRUNCATION }, signal)
        : this.ollama.generate({ model: run.model, prompt: work.prompt, suffix: work.suffix, raw: work.raw, format: work.format, options, keep_alive: -1, stream, ...NO_TRUNCATION }, signal);
    let last: OllamaStreamLine | undefined;
    let calledTools = false;
    for await (const line of lines) {
      if (line.error !== undefined) throw new OllamaStreamError(line.error);
      const text = line.message?.content ?? line.response ?? '';
      const toolCalls = line.message?.tool_calls ?? undefined;
      if (text.length > 0 || (toolCalls && toolCalls.length > 0)) {
        if (progress.firstTokenAt === undefined) {
          progress.firstTokenAt = performance.now();
          if (stream) this.metrics.timeToFirstToken.observe({ model: run.model }, (progress.firstTokenAt - progress.startedAt) / 1000);
        }
        progress.tokens++;
        if (toolCalls && toolCalls.length > 0) calledTools = true;
        relay.token(text, toolCalls);
      }
      if (line.done) {
        last = line;
        break;
      }
    }
    if (!last) throw new OllamaConnectionError('Ollama ended the stream before its final line');

    const finishReason = last.done_reason === 'length' ? 'length' : calledTools ? 'tool_calls' : 'stop';
    const usage = usageTimings(last, progress, data.estimatedPromptTokens);
    const serviceMs = performance.now() - progress.startedAt;
    relay.final({ finishReason, usage, serviceMs });
    // An answer that came whole: its first token came when Ollama began generating (its eval time before the end).
    if (!stream) this.metrics.timeToFirstToken.observe({ model: run.model }, Math.max(0, serviceMs - usage.evalMs) / 1000);
    const outcome: JobOutcome = finishReason === 'length' ? 'length' : 'ok';
    this.metrics.jobs.inc({ model: run.model, outcome });
    this.metrics.generatedTokens.inc({ model: run.model }, usage.completionTokens);
    if (last.eval_count && last.eval_duration) this.metrics.tokensPerSecond.observe({ model: run.model }, last.eval_count / (last.eval_duration / 1e9));
    this.recordUsage(data, run, usage.promptTokens, usage.completionTokens, progress, outcome);
    return { outcome, completionTokens: usage.completionTokens };
  }

  private async embed(data: InferenceJob, run: ModelRun, signal: AbortSignal, relay: RelayStream, progress: Progress): Promise<InferenceResult> {
    const work = data.work;
    if (work.kind !== 'embed') throw new Error('unreachable');
    const res = await this.ollama.embed(
      { model: run.model, input: work.input, dimensions: work.dimensions, truncate: false, options: { num_ctx: run.numCtx }, keep_alive: -1 },
      signal,
    );
    const usage = usageTimings(res, progress, data.estimatedPromptTokens);
    usage.completionTokens = 0;
    relay.final({ finishReason: 'stop', usage, serviceMs: performance.now() - progress.startedAt, embeddings: res.embeddings });
    this.metrics.jobs.inc({ model: run.model, outcome: 'ok' });
    this.recordUsage(data, run, usage.promptTokens, 0, progress, 'ok');
    return { outcome: 'ok', completionTokens: 0 };
  }

  private fail(err: unknown, job: Job, data: InferenceJob, run: ModelRun, signal: AbortSignal, relay: RelayStream, progress: Progress): InferenceResult {
    const message = err instanceof Error ? err.message : String(err);
    const model = run.model;

    if (signal.aborted) {
      relay.discard();
      this.metrics.jobs.inc({ model, outcome: 'cancelled' });
      this.log.info({ model, tokens: progress.tokens }, 'job cancelled: Ollama request aborted');
      this.recordUsage(data, run, data.estimatedPromptTokens, progress.tokens, progress, 'cancelled');
      return { outcome: 'cancelled', completionTokens: progress.tokens };
    }

    // A streaming client already has (or is about to get) text: the error can only be in-band, and
    // running the job again would send the text twice.
    if (data.stream && relay.hasContent) {
      this.reportToHealth(err);
      relay.error({ status: statusAfterTokens(err), message: `generation failed: ${message}`, code: null, flushPending: true });
      this.metrics.jobs.inc({ model, outcome: 'broken' });
      this.log.warn({ model, err: message, tokens: progress.tokens }, 'Ollama failed after the first token: in-band error relayed');
      this.recordUsage(data, run, data.estimatedPromptTokens, progress.tokens, progress, 'error');
      throw new UnrecoverableError(message);
    }

    const rejection = asRejection(err);
    if (rejection) {
      relay.error({ ...rejection, flushPending: false });
      this.metrics.jobs.inc({ model, outcome: 'rejected' });
      this.log.info({ model, status: rejection.status, err: message }, 'Ollama refused the request: error relayed, no retry');
      throw new UnrecoverableError(message);
    }

    this.reportToHealth(err);
    if (isLastAttempt(job)) {
      relay.error({ status: 503, message: `model backend unavailable: ${message}`, code: null, flushPending: false });
      this.metrics.jobs.inc({ model, outcome: 'failed' });
      this.log.warn({ model, err: message, attempt: job.attemptsMade + 1 }, 'Ollama failed on the last attempt: 503 relayed');
      throw new UnrecoverableError(message);
    }
    relay.discard();
    this.metrics.jobs.inc({ model, outcome: 'retried' });
    this.log.warn({ model, err: message, attempt: job.attemptsMade + 1 }, 'Ollama failed before the first token: job goes back for another try');
    throw err instanceof Error ? err : new Error(message);
  }

  /**
   * The worker shut down past its drain timeout and aborted the job: handled like a lost worker, not
   * like a cancel. A stream whose client already has text gets an in-band 503 `worker_shutdown` and
   * the job fails without retry (a rerun would splice answers); any other job goes back to the queue
   * for another worker without spending an attempt (nothing of it reached its client).
   */
  private async interrupted(job: Job, token: string | undefined, data: InferenceJob, run: ModelRun, relay: RelayStream, progress: Progress): Promise<never> {
    const model = run.model;
    if (data.stream && relay.hasContent) {
      const message = 'The worker generating this answer shut down mid-answer, so the answer is incomplete. Please retry the request.';
      relay.error({ status: 503, code: 'worker_shutdown', message, flushPending: true });
      this.metrics.jobs.inc({ model, outcome: 'broken' });
      this.log.warn({ model, tokens: progress.tokens }, 'worker shutting down mid-answer: in-band error relayed, no retry');
      this.recordUsage(data, run, data.estimatedPromptTokens, progress.tokens, progress, 'error');
      throw new UnrecoverableError('worker shut down mid-answer');
    }
    relay.discard();
    this.metrics.jobs.inc({ model, outcome: 'retried' });
    // Without the lock token (never the case under BullMQ) it can only fail, and BullMQ retries it.
    if (!token) throw new Error('worker shut down before the answer reached the client');
    this.log.warn({ model, attemptsMade: job.attemptsMade }, 'worker shutting down: job goes back to its queue for another worker');
    throw new RequeueJob('worker shutting down');
  }

  private reportToHealth(err: unknown): void {
    if (err instanceof OllamaConnectionError) this.health.reportFailure('unreachable', err);
    else if (err instanceof OllamaHttpError && err.status >= 500) this.health.reportFailure('server-error', err);
    else if (err instanceof OllamaStreamError) this.health.reportFailure('server-error', err);
  }

  private recordUsage(data: InferenceJob, run: ModelRun, promptTokens: number, completionTokens: number, progress: Progress, outcome: string): void {
    this.usage.record({
      requestId: data.requestId,
      keyId: data.keyId,
      userId: data.userId,
      model: data.model,
      pool: data.pool,
      promptTokens,
      completionTokens,
      queueMs: progress.queueMs,
      generationMs: performance.now() - progress.startedAt,
      outcome,
      createdAtMs: data.createdAt,
    });
  }
}

/** Ollama's nanosecond metrics as the relay's millisecond usage and timings. */
function usageTimings(m: OllamaMetrics, progress: Progress, estimatedPromptTokens: number): UsageTimings {
  const ms = (ns: number | undefined) => Math.max(0, (ns ?? 0) / 1e6);
  return {
    promptTokens: m.prompt_eval_count ?? estimatedPromptTokens,
    completionTokens: m.eval_count ?? progress.tokens,
    queueMs: progress.queueMs,
    loadMs: ms(m.load_duration),
    promptEvalMs: ms(m.prompt_eval_duration),
    evalMs: ms(m.eval_duration),
    totalMs: m.total_duration !== undefined ? ms(m.total_duration) : performance.now() - progress.startedAt,
  };
}

/** A request Ollama refused for what it is (4xx): retrying cannot help. */
function asRejection(err: unknown): Rejection | undefined {
  if (err instanceof OllamaStreamError) {
    return isContextLengthMessage(err.message) ? { status: 400, code: 'context_length_exceeded', message: err.message } : undefined;
  }
  if (!(err instanceof OllamaHttpError)) return undefined;
  if (err.status < 400 || err.status >= 500 || err.status === 408 || err.status === 429 || err.status === 499) return undefined;
  if (isContextLengthMessage(err.message)) return { status: 400, code: 'context_length_exceeded', message: err.message };
  if (err.status === 404) return { status: 404, code: 'model_not_found', message: err.message };
  return { status: err.status, code: null, message: err.message };
}

function statusAfterTokens(err: unknown): number {
  if (err instanceof OllamaHttpError) return err.status;
  if (err instanceof OllamaConnectionError) return 503;
  return 500;
}
