import { Inject, Injectable } from '@nestjs/common';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { InferenceJob, RelayFinal, RelayRunMessage, Work } from '@switchyard/contracts';
import { ROOT_LOGGER, type Logger } from '@switchyard/observability';
import { isRedisUnavailable } from '@switchyard/redis';
import { AdmissionService, type Endpoint, type Ticket } from '../admission/admission.service';
import { AuthService, type AuthContext } from '../auth/auth.service';
import { EDGE_CONFIG, type EdgeConfig } from '../config/edge.config';
import { fromRelayError, type OpenAIError, queueUnavailable, requestTimedOut } from '@switchyard/openai';
import { EdgeMetrics } from '../metrics/edge-metrics.service';
import { setRequestLabels } from '../metrics/request-labels';
import { ModelCatalogueService } from '../models/model-catalogue.service';
import { buildInferenceJob, jobRequestId } from '../queue/inference-job.factory';
import { waitForFinal, type JobRun } from '../queue/job-run';
import { JobRunner } from '../queue/job-runner.service';
import { StreamResponse } from './stream-response';
import { clientRetry, requestFingerprint } from '../admission/client-retry';

export type RelayChunk = Extract<RelayRunMessage, { type: 'chunk' }>;

/** What a protocol adapter parsed out of its wire format: the work, and the facts admission needs. */
export interface InferenceRequest {
  /** The catalogue model the client named. */
  model: string;
  endpoint: Endpoint;
  work: Work;
  stream: boolean;
  /** Estimated tokens of the longest sequence the model must hold. */
  contextTokens: number;
  /** Estimated prompt tokens in all. */
  promptTokens: number;
  /** The answer's token limit the client asked for, if any (clamped by admission to the room left). */
  maxTokens?: number;
  /** Parameter names for error messages, in the client's API (`messages`, `max_tokens`, ...). */
  promptParam: string;
  maxTokensParam?: string;
}

/** The HTTP exchange of one request (the adapter's controller has both). */
export interface Http {
  request: FastifyRequest;
  reply: FastifyReply;
}

/** A non-stream answer: the run's chunks (text, tool calls) and its final (usage, finish reason). */
export interface WholeAnswer {
  chunks: RelayChunk[];
  final: RelayFinal;
  /** Headers the response carries (rate-limit state). */
  headers: Record<string, string>;
}

/** How one protocol writes a stream: its content type, its keep-alive, and the text of each event. */
export interface StreamProtocol {
  contentType: string;
  /** Written when the stream has been silent EDGE_KEEPALIVE_MS; none: nothing is written while waiting. */
  keepAlive?: string;
  /** Written as soon as the stream opens (an envelope's start events). */
  opening?(): string;
  chunk(msg: RelayChunk): string;
  final(msg: RelayFinal): string;
  /** The in-band error that ends a stream which has started (never followed by the protocol's end marker). */
  failure(err: OpenAIError): string;
}

/**
 * The one pipeline every API surface shares, after its adapter parsed the request and
 * `ApiKeyGuard` verified the key: label the request, admit it (model allowed, window, budget, queue
 * bound, rate limits), enqueue the `InferenceJob`, follow its run, and either hand back the whole
 * answer or write the stream through the adapter's `StreamProtocol`. Usage is settled on the final;
 * a client that goes away cancels the job. Errors before a stream opens are thrown (`OpenAIError`)
 * and rendered by the exception filter in the protocol's own error shape.
 */
@Injectable()
export class InferencePipeline {
  constructor(
    private readonly admission: AdmissionService,
    private readonly catalogue: ModelCatalogueService,
    private readonly runner: JobRunner,
    private readonly auth: AuthService,
    private readonly metrics: EdgeMetrics,
    @Inject(EDGE_CONFIG) private readonly config: EdgeConfig,
    @Inject(ROOT_LOGGER) private readonly logger: Logger,
  ) {}

  /** Labels the request's metrics with its (catalogue) model: call it as soon as the body is parsed, so refusals are counted by model too. */
  label(request: FastifyRequest, model: string): void {
    setRequestLabels(request.raw, { model: this.catalogue.label(model) });
  }

  /** Runs a non-stream request to its final; `undefined` when the client went away (nobody to answer). */
  async whole(http: Http, ctx: AuthContext, req: InferenceRequest): Promise<WholeAnswer | undefined> {
    const { run, ticket } = await this.begin(http, ctx, req);
    const detach = this.cancelOnClose(http, run);
    try {
      const chunks: RelayChunk[] = [];
      const final = await waitForFinal(
        run,
        (chunk) => chunks.push(chunk),
        () => requestTimedOut(this.config.EDGE_REQUEST_TIMEOUT_MS),
        fromRelayError,
      );
      if (!final) {
        http.reply.hijack();
        if (!http.reply.raw.destroyed) http.reply.raw.destroy();
        return undefined;
      }
      this.settle(ctx, ticket, run.job, final);
      // The worker asks Ollama for a non-stream answer whole: its first token came when generating
      // began, the answer's generation time before now.
      if (chunks.some((c) => c.content || c.toolCalls?.length)) this.firstToken(http, run.job, final.usage.evalMs);
      return { chunks, final, headers: ticket.headers };
    } finally {
      detach();
      run.finish();
    }
  }

  /** Runs a stream request, writing it with `protocol`; keep-alives while it waits for its model. */
  async stream(http: Http, ctx: AuthContext, req: InferenceRequest, protocol: StreamProtocol): Promise<void> {
    const { run, ticket } = await this.begin(http, ctx, req);
    const detach = this.cancelOnClose(http, run);
    http.reply.hijack();
    const out = new StreamResponse(http.reply.raw, this.config.EDGE_KEEPALIVE_MS, protocol.keepAlive);
    const headers: Record<string, string | string[]> = {};
    for (const [k, v] of Object.entries({ ...http.reply.getHeaders(), ...ticket.headers })) {
      if (v !== undefined) headers[k] = typeof v === 'number' ? String(v) : v;
    }
    out.open(protocol.contentType, headers);
    this.metrics.inflightStreams.inc();
    let first = true;
    try {
      if (protocol.opening) out.write(protocol.opening());
      for (;;) {
        const ev = await run.next();
        switch (ev.type) {
          case 'started':
            continue;
          case 'chunk': {
            const text = protocol.chunk(ev);
            if (first && text) {
              first = false;
              this.firstToken(http, run.job);
            }
            out.write(text);
            continue;
          }
          case 'final':
            this.settle(ctx, ticket, run.job, ev);
            out.write(protocol.final(ev));
            return;
          case 'error':
          case 'timeout': {
            const err = ev.type === 'error' ? fromRelayError(ev) : requestTimedOut(this.config.EDGE_REQUEST_TIMEOUT_MS);
            setRequestLabels(http.request.raw, { outcomeStatus: err.status });
            out.write(protocol.failure(err));
            return;
          }
          case 'cancelled':
            setRequestLabels(http.request.raw, { outcomeStatus: 499 });
            return;
        }
      }
    } finally {
      out.end();
      this.metrics.inflightStreams.dec();
      detach();
      run.finish();
    }
  }

  /**
   * Label, admit, build the job and start it; a job that cannot be enqueued is refunded and a 503.
   * A key without rate limits is admitted and enqueued in one step (its place claimed as its job is
   * added); a key with limits has its place claimed beside its rate windows, then its job added.
   */
  private async begin(http: Http, ctx: AuthContext, req: InferenceRequest): Promise<{ run: JobRun; ticket: Ticket }> {
    this.label(http.request, req.model);
    const requestId = jobRequestId(http.request);
    const build = (ticket: Ticket) =>
      buildInferenceJob({
        requestId,
        pool: ticket.pool,
        priority: ticket.priority,
        model: ticket.model.name,
        numCtx: ticket.model.contextWindow,
        edgeId: this.config.EDGE_ID,
        keyId: ctx.keyId,
        userId: ctx.userId,
        estimatedPromptTokens: req.promptTokens,
        stream: req.stream,
        work: withMaxTokens(req.work, ticket.maxTokens),
      });
    let started: JobRun | undefined;
    const ticket = await this.admission.admit(
      ctx,
      {
        requestId,
        model: req.model,
        endpoint: req.endpoint,
        contextTokens: req.contextTokens,
        promptTokens: req.promptTokens,
        maxTokens: req.maxTokens,
        promptParam: req.promptParam,
        maxTokensParam: req.maxTokensParam,
        client: clientRetry(http.request.headers),
        fingerprint: () => requestFingerprint(req.work),
      },
      async (t, place) => {
        const job = build(t);
        try {
          const { run, place: got } = await this.runner.claimAndStart(job, http.reply.elapsedTime, place);
          started = run;
          return got;
        } catch (err) {
          // Without Redis nothing can be admitted: the exception filter answers its 503 (as for a claim).
          if (isRedisUnavailable(err)) throw err;
          this.logger.error({ err: String(err), model: job.model }, 'enqueue failed');
          throw queueUnavailable();
        }
      },
    );
    if (started) return { run: started, ticket };
    const job = build(ticket);
    try {
      return { run: await this.runner.start(job, http.reply.elapsedTime, ticket.bullPriority), ticket };
    } catch (err) {
      this.logger.error({ err: String(err), model: job.model }, 'enqueue failed');
      await this.admission.refund(ctx, ticket, requestId);
      throw queueUnavailable();
    }
  }

  /** A client that goes away (now, or already while it was admitted) takes its job back. */
  private cancelOnClose(http: Http, run: JobRun): () => void {
    const onClose = () => {
      if (!http.reply.raw.writableFinished) void run.cancel('client disconnected');
    };
    http.reply.raw.once('close', onClose);
    if (http.request.raw.socket?.destroyed === true) void run.cancel('client disconnected');
    return () => http.reply.raw.off('close', onClose);
  }

  private settle(ctx: AuthContext, ticket: Ticket, job: InferenceJob, final: RelayFinal): void {
    const used = final.usage.promptTokens + final.usage.completionTokens;
    this.auth.recordUsage(ctx, used);
    void this.admission.settle(ctx, ticket, job.requestId, used);
  }

  /** Observes the time to first token: now, or `sinceMs` before now. */
  private firstToken(http: Http, job: InferenceJob, sinceMs = 0): void {
    this.metrics.timeToFirstToken.observe({ model: job.model }, Math.max(0, http.reply.elapsedTime - sinceMs) / 1000);
  }
}

/** The work with the answer's token limit admission settled on. */
function withMaxTokens(work: Work, maxTokens: number | undefined): Work {
  if (work.kind === 'embed' || maxTokens === undefined || work.options.num_predict === maxTokens) return work;
  return { ...work, options: { ...work.options, num_predict: maxTokens } };
}
