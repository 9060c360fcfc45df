import { Inject, Injectable } from '@nestjs/common';
import type { FastifyReply, FastifyRequest } from 'fastify';
import {
  chatCompletionRequestSchema,
  completionRequestSchema,
  type InferenceJob,
  type RelayFinal,
} from '@switchyard/contracts';
import { ROOT_LOGGER, type Logger } from '@switchyard/observability';
import { AdmissionService, type Ticket } from '../admission/admission.service';
import { estimateChatTokens, estimateTextTokens } from '../admission/token-estimate';
import { AuthService, type AuthContext } from '../auth/auth.service';
import { EDGE_CONFIG, type EdgeConfig } from '../config/edge.config';
import { Errors, fromRelayError, queueUnavailable, requestTimedOut } from '../errors/openai-error';
import { parseRequest } from '../errors/parse-request';
import { EdgeMetrics } from '../metrics/edge-metrics.service';
import { setRequestLabels } from '../metrics/request-labels';
import { ModelCatalogueService } from '../models/model-catalogue.service';
import { buildInferenceJob, jobRequestId } from '../queue/inference-job.factory';
import { waitForFinal, type JobRun } from '../queue/job-run';
import { JobRunner } from '../queue/job-runner.service';
import { ChatRenderer, TextRenderer, type CompletionRenderer } from './renderers';
import { SseStream } from './sse-stream';
import { chatToWork, completionToWork, promptText } from './translation';

interface Execution {
  request: FastifyRequest;
  reply: FastifyReply;
  ctx: AuthContext;
  ticket: Ticket;
  job: InferenceJob;
  renderer: CompletionRenderer;
  includeUsage: boolean;
}

/**
 * `chat/completions` and `completions`: authenticate, validate, admit, translate into an
 * `InferenceJob`, enqueue, then relay the worker's answer as one JSON body or as SSE.
 */
@Injectable()
export class CompletionsService {
  constructor(
    private readonly auth: AuthService,
    private readonly admission: AdmissionService,
    private readonly catalogue: ModelCatalogueService,
    private readonly runner: JobRunner,
    private readonly metrics: EdgeMetrics,
    @Inject(EDGE_CONFIG) private readonly config: EdgeConfig,
    @Inject(ROOT_LOGGER) private readonly logger: Logger,
  ) {}

  async chat(request: FastifyRequest, reply: FastifyReply): Promise<void> {
    const ctx = await this.auth.authenticate(request.headers.authorization);
    const req = parseRequest(chatCompletionRequestSchema, request.body);
    setRequestLabels(request.raw, { model: this.catalogue.label(req.model) });
    rejectUnsupported(req.n, req.logprobs);
    const work = chatToWork(req);
    const requestId = jobRequestId(request);
    const promptTokens = estimateChatTokens(req);
    const maxTokens = req.max_completion_tokens ?? req.max_tokens ?? undefined;
    const ticket = await this.admission.admit(ctx, {
      requestId,
      model: req.model,
      endpoint: 'chat',
      contextTokens: promptTokens,
      promptTokens,
      maxTokens,
      promptParam: 'messages',
      maxTokensParam: req.max_completion_tokens != null ? 'max_completion_tokens' : 'max_tokens',
    });
    const stream = req.stream === true;
    const job = this.job(requestId, ctx, ticket, promptTokens, stream, work);
    const renderer = new ChatRenderer(req.model, Math.floor(Date.now() / 1000));
    await this.execute({ request, reply, ctx, ticket, job, renderer, includeUsage: stream && req.stream_options?.include_usage === true }, stream);
  }

  async completion(request: FastifyRequest, reply: FastifyReply): Promise<void> {
    const ctx = await this.auth.authenticate(request.headers.authorization);
    const req = parseRequest(completionRequestSchema, request.body);
    setRequestLabels(request.raw, { model: this.catalogue.label(req.model) });
    rejectUnsupported(req.n, undefined);
    const work = completionToWork(req);
    const requestId = jobRequestId(request);
    const promptTokens = estimateTextTokens(work.prompt) + estimateTextTokens(work.suffix ?? '') + 4;
    const maxTokens = req.max_tokens ?? undefined;
    const ticket = await this.admission.admit(ctx, {
      requestId,
      model: req.model,
      endpoint: 'completions',
      contextTokens: promptTokens,
      promptTokens,
      maxTokens,
      promptParam: 'prompt',
      maxTokensParam: 'max_tokens',
    });
    const stream = req.stream === true;
    const job = this.job(requestId, ctx, ticket, promptTokens, stream, work);
    const renderer = new TextRenderer(req.model, Math.floor(Date.now() / 1000), req.echo ? promptText(req) : undefined);
    await this.execute({ request, reply, ctx, ticket, job, renderer, includeUsage: stream && req.stream_options?.include_usage === true }, stream);
  }

  private job(requestId: string, ctx: AuthContext, ticket: Ticket, promptTokens: number, stream: boolean, work: InferenceJob['work']): InferenceJob {
    return buildInferenceJob({
      requestId,
      pool: ticket.pool,
      priority: ticket.priority,
      model: ticket.model.name,
      numCtx: ticket.model.contextWindow,
      edgeId: this.config.EDGE_ID,
      keyId: ctx.keyId,
      userId: ctx.userId,
      estimatedPromptTokens: promptTokens,
      stream,
      work,
    });
  }

  private async start(x: Execution): Promise<JobRun> {
    try {
      return await this.runner.start(x.job, x.reply.elapsedTime);
    } catch (err) {
      this.logger.error({ err: String(err), model: x.job.model }, 'enqueue failed');
      await this.admission.refund(x.ctx, x.ticket, x.job.requestId);
      throw queueUnavailable();
    }
  }

  private settle(x: Execution, final: RelayFinal): void {
    const used = final.usage.promptTokens + final.usage.completionTokens;
    this.auth.recordUsage(x.ctx, used);
    void this.admission.settle(x.ctx, x.ticket, x.job.requestId, used);
  }

  private firstToken(x: Execution): void {
    this.metrics.timeToFirstToken.observe({ model: x.job.model }, x.reply.elapsedTime / 1000);
  }

  private async execute(x: Execution, stream: boolean): Promise<void> {
    const run = await this.start(x);
    const onClose = () => {
      if (!x.reply.raw.writableFinished) void run.cancel('client disconnected');
    };
    x.reply.raw.once('close', onClose);
    // Gone while it was being admitted (before the listener existed): take the job back now.
    if (clientGone(x.request)) void run.cancel('client disconnected');
    try {
      if (stream) await this.stream(x, run);
      else await this.whole(x, run);
    } finally {
      x.reply.raw.off('close', onClose);
      run.finish();
    }
  }

  /** Non-stream: wait for the final message, answer one JSON body (or the error's status). */
  private async whole(x: Execution, run: JobRun): Promise<void> {
    let first = true;
    const final = await waitForFinal(
      run,
      (chunk) => {
        if (first && (chunk.content || chunk.toolCalls?.length)) {
          first = false;
          this.firstToken(x);
        }
        x.renderer.chunk(chunk);
      },
      () => requestTimedOut(this.config.EDGE_REQUEST_TIMEOUT_MS),
      fromRelayError,
    );
    if (!final) {
      // The client went away: nobody to answer.
      x.reply.hijack();
      if (!x.reply.raw.destroyed) x.reply.raw.destroy();
      return;
    }
    this.settle(x, final);
    await x.reply.status(200).headers(x.ticket.headers).type('application/json').send(x.renderer.body(final));
  }

  /** Stream: SSE with keep-alives while waiting, role first, finish chunk, usage, [DONE]. */
  private async stream(x: Execution, run: JobRun): Promise<void> {
    x.reply.hijack();
    const sse = new SseStream(x.reply.raw, this.config.EDGE_KEEPALIVE_MS);
    const headers: Record<string, string | string[]> = {};
    for (const [k, v] of Object.entries({ ...x.reply.getHeaders(), ...x.ticket.headers })) {
      if (v !== undefined) headers[k] = typeof v === 'number' ? String(v) : v;
    }
    sse.open(headers);
    this.metrics.inflightStreams.inc();
    let first = true;
    try {
      for (;;) {
        const ev = await run.next();
        switch (ev.type) {
          case 'started':
            continue;
          case 'chunk': {
            const payloads = x.renderer.chunk(ev);
            if (first && payloads.length) {
              first = false;
              this.firstToken(x);
            }
            for (const p of payloads) sse.data(p);
            continue;
          }
          case 'final':
            this.settle(x, ev);
            for (const p of x.renderer.finish(ev)) sse.data(p);
            if (x.includeUsage) sse.data(x.renderer.usageChunk(ev));
            sse.data('[DONE]');
            return;
          case 'error':
          case 'timeout': {
            const err = ev.type === 'error' ? fromRelayError(ev) : requestTimedOut(this.config.EDGE_REQUEST_TIMEOUT_MS);
            setRequestLabels(x.request.raw, { outcomeStatus: err.status });
            // After the stream started: an in-band error the SDK throws, and no [DONE].
            sse.data(err.body());
            return;
          }
          case 'cancelled':
            setRequestLabels(x.request.raw, { outcomeStatus: 499 });
            return;
        }
      }
    } finally {
      sse.end();
      this.metrics.inflightStreams.dec();
    }
  }
}

export function clientGone(request: FastifyRequest): boolean {
  return request.raw.socket?.destroyed === true;
}

function rejectUnsupported(n: number | null | undefined, logprobs: boolean | null | undefined): void {
  if (n !== undefined && n !== null && n !== 1) {
    throw Errors.badRequest(`Only n=1 is supported: each request produces one choice (you asked for n=${n}).`, 'n', 'unsupported_value');
  }
  if (logprobs === true) throw Errors.badRequest('logprobs are not supported.', 'logprobs', 'unsupported_value');
}
