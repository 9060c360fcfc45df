import { Inject, Injectable } from '@nestjs/common';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { embeddingRequestSchema, type EmbeddingsResponse } from '@switchyard/contracts';
import { ROOT_LOGGER, type Logger } from '@switchyard/observability';
import { AdmissionService } from '../admission/admission.service';
import { estimateTextTokens } from '../admission/token-estimate';
import { AuthService } from '../auth/auth.service';
import { EDGE_CONFIG, type EdgeConfig } from '../config/edge.config';
import { Errors, fromRelayError, OpenAIError, queueUnavailable, requestTimedOut } from '../errors/openai-error';
import { parseRequest } from '../errors/parse-request';
import { clientGone } from '../completions/completions.service';
import { setRequestLabels } from '../metrics/request-labels';
import { ModelCatalogueService } from '../models/model-catalogue.service';
import { buildInferenceJob, jobRequestId } from '../queue/inference-job.factory';
import { waitForFinal, type JobRun } from '../queue/job-run';
import { JobRunner } from '../queue/job-runner.service';

/** `embeddings`: one `embed` job for all inputs; vectors as float arrays or base64 float32 (LE). */
@Injectable()
export class EmbeddingsService {
  constructor(
    private readonly auth: AuthService,
    private readonly admission: AdmissionService,
    private readonly catalogue: ModelCatalogueService,
    private readonly runner: JobRunner,
    @Inject(EDGE_CONFIG) private readonly config: EdgeConfig,
    @Inject(ROOT_LOGGER) private readonly logger: Logger,
  ) {}

  async embed(request: FastifyRequest, reply: FastifyReply): Promise<void> {
    const ctx = await this.auth.authenticate(request.headers.authorization);
    const req = parseRequest(embeddingRequestSchema, request.body);
    setRequestLabels(request.raw, { model: this.catalogue.label(req.model) });
    const inputs = typeof req.input === 'string' ? [req.input] : req.input;
    const emptyAt = inputs.findIndex((s) => s.length === 0);
    if (emptyAt >= 0) {
      throw Errors.badRequest('Inputs must not be empty strings.', typeof req.input === 'string' ? 'input' : `input[${emptyAt}]`, 'invalid_value');
    }
    const perInput = inputs.map((s) => estimateTextTokens(s) + 2);
    const promptTokens = perInput.reduce((a, b) => a + b, 0);
    const requestId = jobRequestId(request);
    const ticket = await this.admission.admit(ctx, {
      requestId,
      model: req.model,
      endpoint: 'embeddings',
      contextTokens: Math.max(...perInput),
      promptTokens,
      promptParam: 'input',
    });
    const job = buildInferenceJob({
      requestId,
      pool: ticket.pool,
      priority: ticket.priority,
      model: ticket.model.name,
      numCtx: ticket.model.contextWindow,
      edgeId: this.config.EDGE_ID,
      keyId: ctx.keyId,
      userId: ctx.userId,
      estimatedPromptTokens: promptTokens,
      stream: false,
      work: { kind: 'embed', input: inputs, ...(req.dimensions ? { dimensions: req.dimensions } : {}) },
    });

    let run: JobRun;
    try {
      run = await this.runner.start(job, reply.elapsedTime);
    } catch (err) {
      this.logger.error({ err: String(err) }, 'enqueue failed');
      await this.admission.refund(ctx, ticket, requestId);
      throw queueUnavailable();
    }
    const onClose = () => {
      if (!reply.raw.writableFinished) void run.cancel('client disconnected');
    };
    reply.raw.once('close', onClose);
    if (clientGone(request)) void run.cancel('client disconnected');
    try {
      const final = await waitForFinal(
        run,
        () => undefined,
        () => requestTimedOut(this.config.EDGE_REQUEST_TIMEOUT_MS),
        fromRelayError,
      );
      if (!final) {
        reply.hijack();
        if (!reply.raw.destroyed) reply.raw.destroy();
        return;
      }
      const vectors = final.embeddings ?? [];
      if (vectors.length !== inputs.length) {
        throw new OpenAIError(502, `The worker returned ${vectors.length} embeddings for ${inputs.length} inputs.`, 'api_error', 'bad_worker_response');
      }
      const used = final.usage.promptTokens;
      this.auth.recordUsage(ctx, used);
      void this.admission.settle(ctx, ticket, requestId, used);
      const body: EmbeddingsResponse = {
        object: 'list',
        model: req.model,
        data: vectors.map((v, index) => ({ object: 'embedding', index, embedding: req.encoding_format === 'base64' ? toBase64Float32(v) : v })),
        usage: { prompt_tokens: used, total_tokens: used },
      };
      await reply.status(200).headers(ticket.headers).type('application/json').send(body);
    } finally {
      reply.raw.off('close', onClose);
      run.finish();
    }
  }
}

/** What the openai SDK decodes for `encoding_format: "base64"`: little-endian float32, base64. */
export function toBase64Float32(vector: number[]): string {
  const buf = Buffer.allocUnsafe(vector.length * 4);
  vector.forEach((x, i) => buf.writeFloatLE(x, i * 4));
  return buf.toString('base64');
}
