import { Controller, Inject, Post, Req, Res, UseGuards } from '@nestjs/common';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { CatalogueModel } from '@switchyard/contracts';
import type { AuthContext } from '../../auth/auth.service';
import { EDGE_CONFIG, type EdgeConfig } from '../../config/edge.config';
import { ModelCatalogueService } from '../../models/model-catalogue.service';
import { ApiKeyGuard, Caller } from '../../pipeline/api-key.guard';
import { InferencePipeline, type Http, type InferenceRequest } from '../../pipeline/inference-pipeline.service';
import { OllamaEmbeddings } from './ollama-embeddings';
import { parseOllama, requireModel } from './ollama-errors';
import { loadAnswer, ndjsonStream, OllamaRenderer, sendJson } from './ollama-render';
import { chatRequestSchema, generateRequestSchema } from './ollama-requests.schema';
import { chatToInference, generateToInference } from './ollama-translation';

/**
 * Ollama's native inference routes at the edge's root: `/api/chat`, `/api/generate`, `/api/embed`
 * (the legacy `/api/embeddings` comes through OpenAI's embeddings controller, whose path it shares).
 * Streams by default, as Ollama does. Everything runs through the one pipeline: the key, the
 * model allow-list, limits, admission and the usage ledger are the OpenAI routes' own.
 */
@Controller()
@UseGuards(ApiKeyGuard)
export class OllamaInferenceController {
  private readonly embeddings: OllamaEmbeddings;

  constructor(
    private readonly pipeline: InferencePipeline,
    private readonly catalogue: ModelCatalogueService,
    @Inject(EDGE_CONFIG) private readonly config: EdgeConfig,
  ) {
    this.embeddings = new OllamaEmbeddings(pipeline, catalogue);
  }

  @Post('api/chat')
  async chat(@Req() request: FastifyRequest, @Res() reply: FastifyReply, @Caller() ctx: AuthContext): Promise<void> {
    const http = { request, reply };
    const body = parseOllama(chatRequestSchema, request.body);
    this.pipeline.label(request, body.model ?? '');
    const model = requireModel(this.catalogue, ctx, body.model, 'chat');
    const asked = body.model ?? model.name; // answers name the model as the client did
    if (!body.messages?.length) return sendJson(http, loadAnswer(asked, 'chat', unloads(body.keep_alive)));
    await this.answer(http, ctx, chatToInference({ ...body, model: model.name }, this.cap(model)), new OllamaRenderer(asked, 'chat'));
  }

  @Post('api/generate')
  async generate(@Req() request: FastifyRequest, @Res() reply: FastifyReply, @Caller() ctx: AuthContext): Promise<void> {
    const http = { request, reply };
    const body = parseOllama(generateRequestSchema, request.body);
    this.pipeline.label(request, body.model ?? '');
    const model = requireModel(this.catalogue, ctx, body.model, 'generate');
    const asked = body.model ?? model.name;
    if (!body.prompt) return sendJson(http, loadAnswer(asked, 'generate', unloads(body.keep_alive)));
    await this.answer(http, ctx, generateToInference({ ...body, model: model.name, prompt: body.prompt }, this.cap(model)), new OllamaRenderer(asked, 'generate'));
  }

  @Post('api/embed')
  embed(@Req() request: FastifyRequest, @Res() reply: FastifyReply, @Caller() ctx: AuthContext): Promise<void> {
    return this.embeddings.embed({ request, reply }, ctx);
  }

  private async answer(http: Http, ctx: AuthContext, req: InferenceRequest, renderer: OllamaRenderer): Promise<void> {
    if (req.stream) return this.pipeline.stream(http, ctx, req, ndjsonStream(renderer));
    const answer = await this.pipeline.whole(http, ctx, req);
    if (answer) await sendJson(http, renderer.whole(answer), answer.headers);
  }

  /** The largest answer a request may ask for: a larger num_predict is clamped (Ollama never refuses one). */
  private cap(model: CatalogueModel): number {
    return Math.min(model.maxOutputTokens, this.config.EDGE_MAX_TOKENS_CAP);
  }
}

/** `keep_alive: 0` with nothing to run asks Ollama to unload; the scheduler owns residency, so only the answer says so. */
function unloads(keepAlive: number | string | null | undefined): boolean {
  return keepAlive === 0 || (typeof keepAlive === 'string' && /^0+(\.0*)?[a-zµ]*$/i.test(keepAlive.trim()));
}
