import { Controller, Post, Req, Res, UseGuards } from '@nestjs/common';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { embeddingRequestSchema, type EmbeddingsResponse } from '@switchyard/contracts';
import { estimateTextTokens } from '../../admission/token-estimate';
import type { AuthContext } from '../../auth/auth.service';
import { Errors, OpenAIError, parseRequest } from '@switchyard/openai';
import { ApiKeyGuard, Caller } from '../../pipeline/api-key.guard';
import { ModelCatalogueService } from '../../models/model-catalogue.service';
import { InferencePipeline } from '../../pipeline/inference-pipeline.service';
import { ownsOllamaRequest } from '../ollama/ollama-error-shape';
import { OllamaEmbeddings } from '../ollama/ollama-embeddings';

/**
 * OpenAI's embeddings: one `embed` job for all inputs; vectors as float arrays or base64 float32 (LE).
 * `/api/embeddings` is also Ollama's legacy route: a body with `prompt` (no `input`) is answered as Ollama's.
 */
@Controller()
@UseGuards(ApiKeyGuard)
export class EmbeddingsController {
  constructor(
    private readonly pipeline: InferencePipeline,
    private readonly catalogue: ModelCatalogueService,
  ) {}

  @Post(['v1/embeddings', 'api/embeddings'])
  async embed(@Req() request: FastifyRequest, @Res() reply: FastifyReply, @Caller() ctx: AuthContext): Promise<void> {
    if (ownsOllamaRequest(request)) {
      return new OllamaEmbeddings(this.pipeline, this.catalogue).legacy({ request, reply }, ctx);
    }
    const req = parseRequest(embeddingRequestSchema, request.body);
    this.pipeline.label(request, req.model);
    const inputs = typeof req.input === 'string' ? [req.input] : req.input;
    const emptyAt = inputs.findIndex((s) => s.length === 0);
    if (emptyAt >= 0) {
      throw Errors.badRequest('Inputs must not be empty strings.', typeof req.input === 'string' ? 'input' : `input[${emptyAt}]`, 'invalid_value');
    }
    const perInput = inputs.map((s) => estimateTextTokens(s) + 2);
    const answer = await this.pipeline.whole({ request, reply }, ctx, {
      model: req.model,
      endpoint: 'embeddings',
      work: { kind: 'embed', input: inputs, ...(req.dimensions ? { dimensions: req.dimensions } : {}) },
      stream: false,
      contextTokens: Math.max(...perInput),
      promptTokens: perInput.reduce((a, b) => a + b, 0),
      promptParam: 'input',
    });
    if (!answer) return;
    const vectors = answer.final.embeddings ?? [];
    if (vectors.length !== inputs.length) {
      throw new OpenAIError(502, `The worker returned ${vectors.length} embeddings for ${inputs.length} inputs.`, 'api_error', 'bad_worker_response');
    }
    const used = answer.final.usage.promptTokens;
    const body: EmbeddingsResponse = {
      object: 'list',
      model: req.model,
      data: vectors.map((v, index) => ({ object: 'embedding', index, embedding: req.encoding_format === 'base64' ? toBase64Float32(v) : v })),
      usage: { prompt_tokens: used, total_tokens: used },
    };
    await reply.status(200).headers(answer.headers).type('application/json').send(body);
  }
}

/** What the openai SDK decodes for `encoding_format: "base64"`: little-endian float32, base64. */
export function toBase64Float32(vector: number[]): string {
  const buf = Buffer.allocUnsafe(vector.length * 4);
  vector.forEach((x, i) => buf.writeFloatLE(x, i * 4));
  return buf.toString('base64');
}
